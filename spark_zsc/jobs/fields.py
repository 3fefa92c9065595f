"""The jobs' configs as their option tables make them: fields only (their behaviour is in
`options.py` and `evaluate/options.py`). Type checkers read the fields from `fields.pyi`,
written by `spark_zsc.options.stubs`."""

from ..options import JOB
from ..options.typed import config_class
from .evaluate.option_table import EVALUATE_OPTIONS
from .option_table import CLASSIFY_OPTIONS, DISTILL_JOB_OPTIONS, SOURCE_OPTIONS

SourceFields = config_class(
    "SourceFields", SOURCE_OPTIONS, JOB, __name__, "The options classify and evaluate share."
)
ClassifyFields = config_class(
    "ClassifyFields", CLASSIFY_OPTIONS, JOB, __name__, "Every option of classify (stream and estimate too)."
)
EvaluateFields = config_class("EvaluateFields", EVALUATE_OPTIONS, JOB, __name__, "Every option of evaluate.")
DistillFields = config_class("DistillFields", DISTILL_JOB_OPTIONS, JOB, __name__, "Every option of distill.")

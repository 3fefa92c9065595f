"""The evaluate job's option table: the shared input/model options, with labels and template
repeatable (each a wording to compare), plus gold and report options."""

from __future__ import annotations

import dataclasses

from ...options import BY_KEY, DEFAULT_TEMPLATE
from ..option_table import SOURCE_OPTIONS, STUDENT_OPTIONS, job_option

REPORT_FORMATS = ("markdown", "html")

_WORDINGS = {
    "candidate_labels": dataclasses.replace(
        BY_KEY["candidate_labels"],
        repeatable=True,
        doc='a label set "a,b,c"; repeat for other wordings of the same classes, in the same order (YAML: a list of sets)',
    ),
    "label_descriptions": dataclasses.replace(
        BY_KEY["label_descriptions"],
        check=None,  # read by `description_sets`: one set, or (YAML) a list of sets
        doc="a label's description, NAME=DESCRIPTION (NAME: a class of the first label set); the --label flags "
        "form one description set, run as another wording of the classes (YAML: a mapping, or a list of them)",
    ),
    "hypothesis_template": dataclasses.replace(
        BY_KEY["hypothesis_template"],
        repeatable=True,
        default=(DEFAULT_TEMPLATE,),
        doc=f"hypothesis template with one {{}}; repeat to compare templates (default {DEFAULT_TEMPLATE!r})",
    ),
}

EVALUATE_OPTIONS = tuple(_WORDINGS.get(option.key, option) for option in SOURCE_OPTIONS) + (
    job_option("gold_col", str, None, "column holding each row's true class"),
    job_option(
        "gold_map",
        object,
        None,
        'gold value -> label: "1=World,2=Sports" (YAML: a mapping); without it gold values must be labels',
    ),
    job_option("report", str, None, "folder the report is written to (created; its files replaced)"),
    job_option("report_format", str, "markdown", "markdown or html", choices=REPORT_FORMATS),
    job_option("limit", int, None, "evaluate only this many rows (those with a gold value)", least=1),
    job_option(
        "target_precision",
        float,
        0.9,
        "the precision minScore should reach: the report names the lowest threshold that does, and the "
        "coverage it keeps",
        check=BY_KEY["min_score"].check,
    ),
    dataclasses.replace(
        BY_KEY["min_score"],
        doc="also report coverage and precision at this threshold; with multi-label gold, the threshold a class "
        "is predicted at (default 0.5)",
    ),
    *STUDENT_OPTIONS,
)

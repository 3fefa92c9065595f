"""Zero-shot text classification over Apache Spark, with Hugging Face NLI models.

`import spark_zsc` does not import pyspark: the engines run where it is not installed (a
GPU box, a benchmark), and the Spark faces load on first use.
"""

from importlib import import_module

from .errors import ConfigError

__all__ = [
    "ZeroShotClassifier",
    "ConfigError",
    "register_sql_function",
    "DistilledClassifier",
    "DistilledClassifierModel",
]
__version__ = "0.2.0"

# name -> module that defines it, imported when the name is first used
_SPARK_FACES = {
    "ZeroShotClassifier": ".spark.classifier",
    "register_sql_function": ".spark.sql",
    "DistilledClassifier": ".spark.distilled",
    "DistilledClassifierModel": ".spark.distilled_model",
}


def __getattr__(name: str):
    if name in _SPARK_FACES:
        value = getattr(import_module(_SPARK_FACES[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_SPARK_FACES])

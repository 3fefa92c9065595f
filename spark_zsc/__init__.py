"""Zero-shot text classification over Apache Spark, with Hugging Face NLI models."""

from .classifier import ZeroShotClassifier
from .options import ConfigError
from .sql import register_sql_function

__all__ = ["ZeroShotClassifier", "ConfigError", "register_sql_function"]
__version__ = "0.1.0"

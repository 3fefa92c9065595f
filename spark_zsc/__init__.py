"""Zero-shot text classification over Apache Spark, with Hugging Face NLI models."""

from .classifier import ZeroShotClassifier
from .options import ConfigError

__all__ = ["ZeroShotClassifier", "ConfigError"]
__version__ = "0.1.0"

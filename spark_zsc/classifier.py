"""Where `ZeroShotClassifier` lived in 0.1.x. Saved Transformers and PipelineModels name the
class by its module path, so classifiers saved by 0.1.x load through this name; new code
imports `from spark_zsc import ZeroShotClassifier`."""

from .spark.classifier import ZeroShotClassifier

__all__ = ["ZeroShotClassifier"]

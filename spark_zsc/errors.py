"""Every exception spark_zsc raises on purpose, in one place.

`ConfigError` and its kin are the user's to fix and are raised on the driver before any
Spark job; the others say what went wrong on an executor or with a face's limits.
"""

from typing import Optional, TypeVar


class ConfigError(ValueError):
    """A configuration mistake the user must fix; raised on the driver, before any job."""


class ModelUnavailable(ConfigError):
    """The model is neither local nor cached, and the hub cannot be reached."""


class FingerprintMismatch(RuntimeError):
    """Model files on an executor differ from what the driver fingerprinted."""


class MetricsUnavailable(RuntimeError):
    """Metrics need Spark accumulators, which Spark Connect does not have."""


class OutputBusy(RuntimeError):
    """Another run is writing the output: a second writer is refused, never let in."""


class AgreementTooLow(RuntimeError):
    """A distilled student agreed with its teacher less than minAgreement asked: no model."""

    def __init__(self, message: str, report: dict):
        super().__init__(message)
        self.report = report  # the fit's figures, as DistilledClassifierModel.report() gives them


Value = TypeVar("Value")


def required(value: Optional[Value], what: str) -> Value:
    """`value`, which the options' rules have made present: a ConfigError naming `what` if not."""
    if value is None:
        raise ConfigError(f"{what} is required here")
    return value

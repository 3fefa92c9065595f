"""What a distillation measures on its held-out rows, from their top labels alone: how often the
student agrees with its teacher (overall and per teacher label), what a cascade would give
(agreement against the share of rows deferred to the teacher, for a few thresholds), and the
student's accuracy on held-out labelled examples."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

DEFER_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class HeldOut:
    """One held-out row: the reference label (the teacher's top label, or an example's gold
    label), the student's top label and its score."""

    reference: str
    student: str
    confidence: float


def agreement(rows: Sequence[HeldOut]) -> Optional[float]:
    """The share of rows whose student label is the reference; None without rows."""
    return sum(row.student == row.reference for row in rows) / len(rows) if rows else None


def per_label(rows: Sequence[HeldOut], labels: Sequence[str]) -> dict:
    """For each label: the held-out rows the teacher gave it, and the share the student agrees on."""
    return {
        label: {"rows": len(mine), "agreement": agreement(mine)}
        for label in labels
        for mine in [[row for row in rows if row.reference == label]]
    }


def cascade(rows: Sequence[HeldOut], thresholds: Sequence[float]) -> list[dict]:
    """For each threshold: the share of rows whose student score is under it (deferred: the
    teacher's own label, so they agree) and the agreement of the whole."""
    out = []
    for threshold in sorted(set(thresholds)):
        deferred = [row.confidence < threshold for row in rows]
        agreed = sum(d or row.student == row.reference for d, row in zip(deferred, rows))
        out.append(
            {
                "defer_below": threshold,
                "deferred_share": sum(deferred) / len(rows) if rows else None,
                "agreement": agreed / len(rows) if rows else None,
            }
        )
    return out


def refusal(report: dict, min_agreement: float) -> str:
    """Why a fit returned no model, with its figures and what to try."""
    weakest = sorted(
        (figures["agreement"], label)
        for label, figures in report["per_label"].items()
        if figures["agreement"] is not None
    )[:3]
    reaching = [row for row in report["cascade"] if (row["agreement"] or 0) >= min_agreement]
    advice = [
        f"a larger sampleRows (now {report['sample_rows']})",
        f"a different keepShare (now {report['keep_share']}: the teacher's surest rows per label)",
        "labelled examples (setExamples, or labelCol)",
        "labels or descriptions the teacher tells apart better",
    ]
    if reaching:
        advice.append(
            f"deferBelow={reaching[0]['defer_below']} (the teacher scores the "
            f"{reaching[0]['deferred_share']:.0%} of rows the student is least sure of; "
            f"agreement {reaching[0]['agreement']:.1%})"
        )
    advice.append("a lower minAgreement, if this agreement is good enough")
    return (
        f"the student agrees with its teacher on {report['agreement']:.1%} of "
        f"{report['held_out_rows']} held-out rows, under minAgreement {min_agreement}; weakest labels: "
        + ", ".join(f"{label} {share:.1%}" for share, label in weakest)
        + ". No model returned. Try: "
        + "; ".join(advice)
    )

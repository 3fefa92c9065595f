"""Classification metrics from counts, Spark-free: what `evaluate` reports for each run.

Spark reduces a run to cells (gold class, predicted class, confidence bin) -> (rows, sum of
top scores), so that any number of rows comes back to the driver as at most
classes x (classes + 1) x bins cells; everything here is computed from those cells.

Conventions (scikit-learn's): precision of a class never predicted is 0; macro-F1 averages
the classes that occur in the gold labels or the predictions. A row the classifier could
not classify (blank text) counts as wrong, in a "(none)" column of the confusion matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

BINS = 10  # reliability: equal-width bins of the top score, [0, 0.1), ..., [0.9, 1.0]
NONE_COLUMN = "(none)"


@dataclass(frozen=True)
class Cell:
    gold: int  # class index
    predicted: Optional[int]  # class index, None when the row was not classified
    bin: Optional[int]  # which of the BINS the top score falls in, None when not classified
    rows: int
    score_sum: float = 0.0


def metrics_from_cells(classes: Sequence[str], cells: Iterable[Cell]) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1, confusion matrix and reliability."""
    n = len(classes)
    confusion = [[0] * (n + 1) for _ in range(n)]  # gold rows x predicted columns, last: not classified
    bin_rows, bin_correct, bin_scores = [0] * BINS, [0] * BINS, [0.0] * BINS
    for cell in cells:
        column = n if cell.predicted is None else cell.predicted
        confusion[cell.gold][column] += cell.rows
        if cell.bin is not None:
            bin_rows[cell.bin] += cell.rows
            bin_scores[cell.bin] += cell.score_sum
            bin_correct[cell.bin] += cell.rows if cell.predicted == cell.gold else 0
    total = sum(map(sum, confusion))
    correct = sum(confusion[i][i] for i in range(n))
    per_label, f1_of_present = [], []
    for i, label in enumerate(classes):
        support = sum(confusion[i])
        predicted = sum(confusion[g][i] for g in range(n))
        precision = confusion[i][i] / predicted if predicted else 0.0
        recall = confusion[i][i] / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label.append(
            {
                "label": label,
                "precision": precision,
                "recall": recall,
                "f1": f1,
                "support": support,
                "predicted": predicted,
            }
        )
        if support or predicted:
            f1_of_present.append(f1)
    classified = sum(bin_rows)
    reliability = [
        {
            "low": b / BINS,
            "high": (b + 1) / BINS,
            "rows": bin_rows[b],
            "confidence": bin_scores[b] / bin_rows[b] if bin_rows[b] else None,
            "accuracy": bin_correct[b] / bin_rows[b] if bin_rows[b] else None,
        }
        for b in range(BINS)
    ]
    ece = (
        sum(abs(r["accuracy"] - r["confidence"]) * r["rows"] for r in reliability if r["rows"]) / classified
        if classified
        else None
    )
    return {
        "rows": total,
        "correct": correct,
        "accuracy": correct / total if total else None,
        "macro_f1": sum(f1_of_present) / len(f1_of_present) if f1_of_present else None,
        "unclassified": sum(confusion[g][n] for g in range(n)),
        "per_label": per_label,
        "confusion": {"gold": list(classes), "predicted": [*classes, NONE_COLUMN], "matrix": confusion},
        "reliability": {"bins": reliability, "expected_calibration_error": ece},
    }

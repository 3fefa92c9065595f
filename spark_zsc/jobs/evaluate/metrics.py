"""Classification metrics from counts, Spark-free: what `evaluate` reports for each run.

Spark reduces a run to cells (gold class, predicted class, score bin) -> (rows, sum of
top scores), so that any number of rows comes back to the driver as at most
classes x (classes + 1) x CURVE_BINS cells; everything here is computed from those cells.
Multi-label gold (each row holding several classes) is reduced to one cell per (class, in the
gold or not, score bin) instead, a decision per row and class.

The coverage curve sets `minScore`: for each threshold (a bin's lower edge, 0.00 to 0.99),
the share of rows whose top score reaches it (they keep a label) and the precision of those.

Conventions (scikit-learn's): precision of a class never predicted is 0; macro-F1 averages
the classes that occur in the gold labels or the predictions. A row the classifier could
not classify (blank text) counts as wrong, in a "(none)" column of the confusion matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

BINS = 10  # reliability: equal-width bins of the top score, [0, 0.1), ..., [0.9, 1.0]
CURVE_BINS = 100  # cells' bins: thresholds of the coverage curve in steps of 0.01
NONE_COLUMN = "(none)"


@dataclass(frozen=True)
class Cell:
    gold: int  # class index
    predicted: Optional[int]  # class index, None when the row was not classified
    bin: Optional[int]  # which of the CURVE_BINS the top score falls in, None when not classified
    rows: int
    score_sum: float = 0.0


def metrics_from_cells(classes: Sequence[str], cells: Iterable[Cell]) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1, confusion matrix and reliability."""
    n = len(classes)
    confusion = [[0] * (n + 1) for _ in range(n)]  # gold rows x predicted columns, last: not classified
    bin_rows, bin_correct, bin_scores = [0] * BINS, [0] * BINS, [0.0] * BINS
    cells = list(cells)
    for cell in cells:
        column = n if cell.predicted is None else cell.predicted
        confusion[cell.gold][column] += cell.rows
        if cell.bin is not None:
            tenth = cell.bin * BINS // CURVE_BINS
            bin_rows[tenth] += cell.rows
            bin_scores[tenth] += cell.score_sum
            bin_correct[tenth] += cell.rows if cell.predicted == cell.gold else 0
    total = sum(map(sum, confusion))
    correct = sum(confusion[i][i] for i in range(n))
    per_label, f1_of_present = [], []
    for i, label in enumerate(classes):
        support = sum(confusion[i])
        predicted = sum(confusion[g][i] for g in range(n))
        per_label.append(label_scores(label, confusion[i][i], predicted, support))
        if support or predicted:
            f1_of_present.append(per_label[-1]["f1"])
    return {
        "rows": total,
        "correct": correct,
        "accuracy": correct / total if total else None,
        "macro_f1": sum(f1_of_present) / len(f1_of_present) if f1_of_present else None,
        "unclassified": sum(confusion[g][n] for g in range(n)),
        "per_label": per_label,
        "confusion": {"gold": list(classes), "predicted": [*classes, NONE_COLUMN], "matrix": confusion},
        "reliability": _reliability(bin_rows, bin_correct, bin_scores),
        "coverage": coverage_curve(
            [(c.bin, c.rows, c.rows if c.predicted == c.gold else 0) for c in cells if c.bin is not None],
            total,
        ),
    }


def label_scores(label: str, right: int, predicted: int, support: int) -> dict:
    """One class's precision, recall and F1 from its right predictions, its predictions and its
    gold rows (scikit-learn's convention: 0 where a ratio has nothing to divide by)."""
    precision = right / predicted if predicted else 0.0
    recall = right / support if support else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "label": label,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "support": support,
        "predicted": predicted,
    }


def _reliability(bin_rows, bin_correct, bin_scores) -> dict:
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
    return {"bins": reliability, "expected_calibration_error": ece}


def coverage_curve(scored: Iterable[tuple[int, int, int]], total: int) -> list[dict]:
    """From (bin, rows, correct rows) of the rows that have a score, for each threshold: the
    share of all `total` rows at or above it (coverage) and the share of those right (precision)."""
    rows, correct = [0] * CURVE_BINS, [0] * CURVE_BINS
    for bin_, count, right in scored:
        rows[bin_] += count
        correct[bin_] += right
    curve, kept, kept_right = [], 0, 0
    for b in reversed(range(CURVE_BINS)):  # a threshold keeps its bin and every bin above it
        kept, kept_right = kept + rows[b], kept_right + correct[b]
        curve.append(
            {
                "threshold": b / CURVE_BINS,
                "rows": kept,
                "coverage": kept / total if total else None,
                "precision": kept_right / kept if kept else None,
            }
        )
    return curve[::-1]


def threshold_for(curve: list[dict], target_precision: float) -> Optional[dict]:
    """The lowest threshold whose precision reaches the target (the most rows kept), or None."""
    return next((p for p in curve if p["precision"] is not None and p["precision"] >= target_precision), None)


@dataclass(frozen=True)
class LabelCell:
    """Multi-label gold: rows whose score for class `label` falls in `bin`, in the gold or not."""

    label: int
    gold: bool
    bin: int
    rows: int
    score_sum: float = 0.0


def multi_label_metrics(
    classes: Sequence[str], cells: Iterable[LabelCell], rows: int, threshold: float
) -> dict:
    """Each class decided on its own: a class is predicted where its score reaches `threshold`.
    Per-class precision/recall/F1 there, micro-averaged ones, `accuracy` as the share of (row,
    class) decisions right (1 - Hamming loss), the reliability of the class scores, and the
    micro precision/recall curve over thresholds."""
    n, cut = len(classes), round(threshold * CURVE_BINS)
    counts = {(label, gold): [0] * CURVE_BINS for label in range(n) for gold in (True, False)}
    bin_rows, bin_correct, bin_scores = [0] * BINS, [0] * BINS, [0.0] * BINS
    for cell in cells:
        counts[cell.label, cell.gold][cell.bin] += cell.rows
        tenth = cell.bin * BINS // CURVE_BINS
        bin_rows[tenth] += cell.rows
        bin_scores[tenth] += cell.score_sum
        # calibration of a class score: how often the class is in the gold at that score
        bin_correct[tenth] += cell.rows if cell.gold else 0

    def at(cut_bin: int) -> list[tuple[int, int, int]]:
        """Per class (true positives, false positives, false negatives) at a threshold bin."""
        per_class = []
        for label in range(n):
            positives, negatives = counts[label, True], counts[label, False]
            per_class.append((sum(positives[cut_bin:]), sum(negatives[cut_bin:]), sum(positives[:cut_bin])))
        return per_class

    per_label, f1s = [], []
    for label, (tp, fp, fn) in zip(classes, at(cut)):
        per_label.append(label_scores(label, tp, tp + fp, tp + fn))
        if tp + fn or tp + fp:
            f1s.append(per_label[-1]["f1"])
    decisions = rows * n
    curve = []
    for b in range(CURVE_BINS):
        tp, fp, fn = (sum(x) for x in zip(*at(b))) if n else (0, 0, 0)
        curve.append(
            {
                "threshold": b / CURVE_BINS,
                "rows": tp + fp,
                "coverage": tp / (tp + fn) if tp + fn else None,  # micro recall: the gold classes found
                "precision": tp / (tp + fp) if tp + fp else None,
            }
        )
    tp, fp, fn = (sum(x) for x in zip(*at(cut)))
    right = decisions - fp - fn
    micro_p = tp / (tp + fp) if tp + fp else 0.0
    micro_r = tp / (tp + fn) if tp + fn else 0.0
    return {
        "rows": rows,
        "threshold": threshold,
        "correct": right,
        "accuracy": right / decisions if decisions else None,
        "macro_f1": sum(f1s) / len(f1s) if f1s else None,
        "micro_precision": micro_p,
        "micro_recall": micro_r,
        "micro_f1": 2 * micro_p * micro_r / (micro_p + micro_r) if micro_p + micro_r else 0.0,
        "unclassified": 0,
        "per_label": per_label,
        "confusion": None,
        "reliability": _reliability(bin_rows, bin_correct, bin_scores),
        "coverage": curve,
    }

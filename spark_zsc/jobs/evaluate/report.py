"""The evaluate job's report folder: a Markdown or HTML page, PNG plots and the numbers as JSON.

    report.md | report.html   tables: every run, then each run's per-label scores and confusion matrix
    metrics.json              everything the page shows, and the reliability bins
    accuracy.png              accuracy of each template, one bar per label set
    reliability.png           mean top score vs accuracy per confidence bin, every run
    coverage.png              precision vs coverage as minScore rises, every run, the target marked
    confusion-<run>.png       the confusion matrix of each run as a heat map

Plots use matplotlib's object API (no pyplot, no display, no global state).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

PAGE_NAMES = {"markdown": "report.md", "html": "report.html"}


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def wording_name(run: dict, width: int = 80) -> str:
    """A run's wording: its labels, or its label descriptions."""
    if not run.get("descriptions"):
        return ", ".join(run["labels"])
    described = "; ".join(f"{label}={text}" for label, text in run["descriptions"].items())
    return "described: " + (described if len(described) <= width else described[: width - 3] + "...")


def _run_name(index: int, run: dict) -> str:
    return f"run {index + 1}: {wording_name(run)} / {run['template']}"


def plot_accuracy(path: Path, summary: dict) -> None:
    runs = summary["runs"]
    templates = list(dict.fromkeys(r["template"] for r in runs))
    wordings = list(dict.fromkeys(wording_name(r) for r in runs))
    figure = _figure(max(6, 1.6 * len(templates) * max(1, len(wordings) / 2)), 4)
    axes = figure.add_subplot()
    width = 0.8 / len(wordings)
    for k, wording in enumerate(wordings):
        accuracy = [
            next(r["accuracy"] for r in runs if wording_name(r) == wording and r["template"] == t)
            for t in templates
        ]
        axes.bar([i + k * width for i in range(len(templates))], accuracy, width, label=wording[:60])
    axes.set_xticks(
        [i + width * (len(wordings) - 1) / 2 for i in range(len(templates))], templates, fontsize=8
    )
    axes.set_ylim(0, 1)
    axes.set_ylabel("accuracy")
    axes.set_title("Accuracy per template and label wording")
    axes.legend(fontsize=7, loc="lower right")
    figure.savefig(path)


def plot_coverage(path: Path, summary: dict) -> None:
    """Precision against coverage as the threshold rises, one curve per run, each run's
    target-precision point marked."""
    figure = _figure(6, 5)
    axes = figure.add_subplot()
    for i, run in enumerate(summary["runs"]):
        points = [p for p in run["coverage"] if p["precision"] is not None and p["coverage"] is not None]
        line = axes.plot(
            [p["coverage"] for p in points], [p["precision"] for p in points], label=_run_name(i, run)[:60]
        )
        if run["at_target"]:
            axes.plot(
                run["at_target"]["coverage"], run["at_target"]["precision"], "o", color=line[0].get_color()
            )
    target = summary["runs"][0]["target_precision"]
    axes.axhline(target, color="grey", linestyle=":", label=f"target precision {target}")
    multi = summary.get("multi_label_gold")
    axes.set_xlabel("recall (gold classes found)" if multi else "coverage (rows that keep a label)")
    axes.set_ylabel("precision")
    axes.set_xlim(0, 1.02)
    axes.set_ylim(0, 1.02)
    axes.set_title("Precision vs recall by threshold" if multi else "Precision vs coverage as minScore rises")
    axes.legend(fontsize=7, loc="lower left")
    figure.savefig(path)


def plot_reliability(path: Path, summary: dict) -> None:
    figure = _figure(5.5, 5)
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfect calibration")
    for i, run in enumerate(summary["runs"]):
        bins = [b for b in run["reliability"]["bins"] if b["rows"]]
        best = i == summary["best_run"]
        axes.plot(
            [b["confidence"] for b in bins],
            [b["accuracy"] for b in bins],
            marker="o",
            linewidth=2.5 if best else 1,
            alpha=1 if best else 0.45,
            label=f"run {i + 1}" + (" (best)" if best else ""),
        )
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel("mean top score in bin")
    axes.set_ylabel("accuracy in bin")
    axes.set_title("Reliability")
    axes.legend(fontsize=7)
    figure.savefig(path)


def plot_confusion(path: Path, run: dict, title: str) -> None:
    confusion = run["confusion"]
    matrix = confusion["matrix"]
    columns = confusion["predicted"] if run["unclassified"] else confusion["predicted"][:-1]
    matrix = [row[: len(columns)] for row in matrix]
    size = 1.2 + 0.9 * len(columns)
    figure = _figure(size + 1.5, size)
    axes = figure.add_subplot()
    image = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axes, shrink=0.8)
    axes.set_xticks(range(len(columns)), columns, rotation=45, ha="right", fontsize=8)
    axes.set_yticks(range(len(confusion["gold"])), confusion["gold"], fontsize=8)
    axes.set_xlabel("predicted")
    axes.set_ylabel("gold")
    axes.set_title(title[:70], fontsize=9)
    peak = max(max(row) for row in matrix) or 1
    for g, row in enumerate(matrix):
        for p, count in enumerate(row):
            axes.text(
                p,
                g,
                str(count),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if count > peak / 2 else "black",
            )
    figure.savefig(path)


def _table(header: list[str], rows: list[list], html_page: bool) -> str:
    if html_page:
        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    escape = lambda c: str(c).replace("|", "\\|")  # noqa: E731 (a table cell)
    lines = ["| " + " | ".join(map(escape, header)) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(map(escape, row)) + " |" for row in rows]
    return "\n".join(lines)


def _number(value, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _percent(value) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _at(point) -> str:
    if point is None:
        return ""
    return f"{point['threshold']:.2f}: coverage {_percent(point['coverage'])}, precision {_number(point['precision'])}"


def render_page(summary: dict, page_format: str) -> str:
    html_page = page_format == "html"
    blocks: list[tuple[str, Any]] = []  # (kind, content): heading, text, table, image

    blocks.append(("h1", "Zero-shot evaluation"))
    without = summary["rows_without_gold"]
    blocks.append(
        (
            "p",
            f"Model: {summary['model']}. Rows: {summary['rows']:,}"
            + (f" ({without:,} without a gold value left out)" if without else "")
            + f". Classes: {', '.join(summary['classes'])}. Multi-label scoring: {summary['multi_label']}."
            + (
                f" Gold holds several classes per row: a class is predicted where its score reaches "
                f"{summary['runs'][0]['threshold']}; accuracy is the share of (row, class) decisions right."
                if summary.get("multi_label_gold")
                else " Accuracy is top-label accuracy; a row that could not be classified counts as wrong."
            ),
        )
    )
    blocks.append(("h2", "Runs"))
    blocks.append(
        (
            "table",
            _table(
                ["run", "labels", "template", "accuracy", "macro-F1", "ECE", "not classified"],
                [
                    [
                        f"{i + 1}{' (best)' if i == summary['best_run'] else ''}",
                        wording_name(r),
                        r["template"],
                        _number(r["accuracy"]),
                        _number(r["macro_f1"]),
                        _number(r["reliability"]["expected_calibration_error"], 3),
                        r["unclassified"],
                    ]
                    for i, r in enumerate(summary["runs"])
                ],
                html_page,
            ),
        )
    )
    blocks.append(("img", ("accuracy.png", "accuracy per template")))
    blocks.append(("img", ("reliability.png", "reliability curves")))
    blocks.append(("h2", "Abstaining: where to set minScore"))
    target = summary["runs"][0]["target_precision"]
    blocks.append(
        (
            "p",
            f"For each run, the lowest threshold at which precision reaches {target} (--target-precision) and the "
            + (
                "share of gold classes still found there (recall)."
                if summary.get("multi_label_gold")
                else "share of rows that keep a label there (coverage); rows under it would get no label."
            ),
        )
    )
    blocks.append(
        (
            "table",
            _table(
                ["run", f"threshold for precision {target}", "coverage", "precision", "at --min-score"],
                [
                    [
                        i + 1,
                        *(
                            [
                                _number(r["at_target"]["threshold"], 2),
                                _percent(r["at_target"]["coverage"]),
                                _number(r["at_target"]["precision"]),
                            ]
                            if r["at_target"]
                            else ["not reached", "", ""]
                        ),
                        _at(r["at_min_score"]),
                    ]
                    for i, r in enumerate(summary["runs"])
                ],
                html_page,
            ),
        )
    )
    blocks.append(("img", ("coverage.png", "precision vs coverage")))
    for i, run in enumerate(summary["runs"]):
        blocks.append(("h2", _run_name(i, run)))
        blocks.append(
            (
                "table",
                _table(
                    ["class", "label", "precision", "recall", "F1", "support", "predicted"],
                    [
                        [
                            c,
                            p["label"],
                            _number(p["precision"]),
                            _number(p["recall"]),
                            _number(p["f1"]),
                            p["support"],
                            p["predicted"],
                        ]
                        for c, p in zip(summary["classes"], run["per_label"])
                    ],
                    html_page,
                ),
            )
        )
        if run["confusion"]:
            blocks.append(("img", (f"confusion-{i + 1}.png", f"confusion matrix of run {i + 1}")))

    if html_page:
        tags = {"h1": "<h1>{}</h1>", "h2": "<h2>{}</h2>", "p": "<p>{}</p>"}
        body = []
        for kind, content in blocks:
            if kind == "table":
                body.append(content)
            elif kind == "img":
                body.append(f'<p><img src="{content[0]}" alt="{html.escape(content[1])}"></p>')
            else:
                body.append(tags[kind].format(html.escape(content)))
        style = "body{font-family:sans-serif;max-width:70em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
        return f"<!doctype html><html><head><meta charset='utf-8'><title>Zero-shot evaluation</title><style>{style}</style></head><body>{''.join(body)}</body></html>\n"
    prefixes = {"h1": "# ", "h2": "## ", "p": ""}
    parts = [
        content
        if kind == "table"
        else f"![{content[1]}]({content[0]})"
        if kind == "img"
        else prefixes[kind] + content
        for kind, content in blocks
    ]
    return "\n\n".join(parts) + "\n"


def write_report(folder: str, page_format: str, summary: dict) -> str:
    """Write the report folder; returns the page's path."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    # an earlier report in this folder may have had more runs, or the other page format
    for stale in [*root.glob("confusion-*.png"), *(root / name for name in PAGE_NAMES.values())]:
        stale.unlink(missing_ok=True)
    (root / "metrics.json").write_text(json.dumps(summary, indent=2))
    plot_accuracy(root / "accuracy.png", summary)
    plot_reliability(root / "reliability.png", summary)
    plot_coverage(root / "coverage.png", summary)
    for i, run in enumerate(summary["runs"]):
        if run["confusion"]:  # multi-label gold has none
            plot_confusion(root / f"confusion-{i + 1}.png", run, _run_name(i, run))
    page = root / PAGE_NAMES[page_format]
    page.write_text(render_page(summary, page_format))
    return str(page)

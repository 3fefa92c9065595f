"""The reference pages, made from the code: every option from the option tables, the metrics
from their declarations, the lineage fields and statuses from the lineage module.

    python docs/generate.py           write docs/reference/*.md
    python docs/generate.py --check   exit 1, naming the pages, where they differ from the code

The tests run the check, so a page that no longer says what the code does fails them.
"""

from __future__ import annotations

import sys
from pathlib import Path

REFERENCE = Path(__file__).resolve().parent / "reference"
HEADER = "<!-- Made by docs/generate.py from the code: edit the code, then run `make docs`. -->\n\n"


def cell(value) -> str:
    """A table cell: pipes escaped, and angle brackets outside `code` (Markdown reads them as HTML)."""
    parts = str(value).replace("|", "\\|").replace("\n", " ").split("`")
    return "`".join(part if n % 2 else part.replace("<", "&lt;") for n, part in enumerate(parts))


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def code(name) -> str:
    return f"`{name}`" if name else "—"


def kind_of(option) -> str:
    from spark_zsc.options import LABELS

    if option.choices:
        return " | ".join(f"`{choice}`" for choice in option.choices)
    kinds = {str: "string", int: "integer", float: "number", bool: "boolean", LABELS: "labels"}
    named = kinds.get(option.kind, "list or mapping" if option.repeatable else "string or list")
    return f"{named}, {option.least} or more" if option.least is not None else named


def default_of(option) -> str:
    if option.default is None:
        return "unset"
    if option.default is False or option.default is True:
        return f"`{str(option.default).lower()}`"
    if isinstance(option.default, (list, tuple)):
        return ", ".join(f"`{value}`" for value in option.default)
    return f"`{option.default}`"


def options_page() -> str:
    from spark_zsc.jobs.evaluate.option_table import EVALUATE_OPTIONS
    from spark_zsc.jobs.option_table import (
        CLASSIFY_OPTIONS,
        DISTILL_JOB_OPTIONS,
        ESTIMATE_OPTIONS,
        SOURCE_OPTIONS,
        STREAM_OPTIONS,
    )
    from spark_zsc.options import JOB, OPTIONS, PARAM, SQL

    in_jobs = {option.key for option in CLASSIFY_OPTIONS + EVALUATE_OPTIONS}
    classifier = [
        [
            code(option.name(PARAM)),
            code(option.flag if option.key in in_jobs else None),
            code(option.name(JOB) if option.key in in_jobs else None),
            code(option.name(SQL)),
            kind_of(option),
            default_of(option),
            option.doc,
        ]
        for option in OPTIONS
    ]
    shared = {option.key for option in OPTIONS}

    def job_rows(options, leave_out) -> list[list]:
        return [
            [code(option.flag), code(option.name(JOB)), kind_of(option), default_of(option), option.doc]
            for option in options
            if option.key not in leave_out
        ]

    source_keys = {option.key for option in SOURCE_OPTIONS}
    return (
        HEADER + "# Options\n\n"
        "Each option is declared once, in `spark_zsc/options.py` (the classifier's) or\n"
        "`spark_zsc/jobs/` (the jobs' own); every face is made from that declaration, with the same\n"
        "default and the same check. A flag overrides the YAML file given with `--config`.\n\n"
        "## Classifier options\n\n"
        "The `ZeroShotClassifier` Param, the jobs' flag and YAML key, the `register_sql_function`\n"
        "argument (— where a face does not have it).\n\n"
        + table(["Param", "flag", "YAML key", "SQL argument", "type", "default", "what it does"], classifier)
        + "\n## Options of both jobs\n\n"
        "`classify` and `evaluate` read their input and start Spark with these.\n\n"
        + table(["flag", "YAML key", "type", "default", "what it does"], job_rows(SOURCE_OPTIONS, shared))
        + "\n## `classify` options\n\n"
        + table(
            ["flag", "YAML key", "type", "default", "what it does"],
            job_rows(CLASSIFY_OPTIONS, shared | source_keys),
        )
        + "\n## `stream` and `estimate`\n\n"
        "Each takes `classify`'s options but those it cannot use. `stream` (`classify --stream`) leaves out "
        + ", ".join(code(option.flag) for option in CLASSIFY_OPTIONS if option not in STREAM_OPTIONS)
        + "; `estimate` (`classify --estimate ROWS`) leaves out "
        + ", ".join(code(option.flag) for option in CLASSIFY_OPTIONS if option not in ESTIMATE_OPTIONS)
        + ", and takes:\n\n"
        + table(
            ["flag", "YAML key", "type", "default", "what it does"],
            job_rows([option for option in ESTIMATE_OPTIONS if option not in CLASSIFY_OPTIONS], ()),
        )
        + "\n## `evaluate` options\n\n"
        "Where `evaluate` reads an option of `classify` differently (several label sets, several\n"
        "templates), its own line is here.\n\n"
        + table(
            ["flag", "YAML key", "type", "default", "what it does"],
            job_rows([option for option in EVALUATE_OPTIONS if option not in SOURCE_OPTIONS], ()),
        )
        + "\n## `distill` options, and `DistilledClassifier`'s Params\n\n"
        "`distill` takes the options of both jobs (its teacher's), where the student goes, and the\n"
        "distillation's own, which are `DistilledClassifier`'s Params too (`deferBelow` is its model's;\n"
        "the student's encoder is `embeddingModel`, `--embedding-model`).\n\n"
        + table(
            ["Param", "flag", "YAML key", "type", "default", "what it does"],
            [
                [
                    code(option.name(PARAM)),
                    code(option.flag),
                    code(option.name(JOB)),
                    kind_of(option),
                    default_of(option),
                    option.doc,
                ]
                for option in DISTILL_JOB_OPTIONS
                if option not in SOURCE_OPTIONS
            ],
        )
    )


def metrics_page() -> str:
    from spark_zsc.spark.metrics import METRIC_NAMES, METRICS

    rows = [[code(name), METRICS[name]] for name in METRIC_NAMES]
    return (
        HEADER + "# Metrics\n\n"
        "`ZeroShotClassifier.metrics()` returns these, summed over every action on the DataFrames the\n"
        "classifier produced; the jobs' summaries show them. They are Spark accumulators: an action\n"
        "that scans the data twice counts twice, an action that does not need the result column\n"
        "(`count()`) runs no model, and one that stops reading early (`head()`, `limit()`) may not\n"
        "report the tasks it cut short. Spark Connect has no accumulators: there `metrics()` raises.\n\n"
        + table(["metric", "what it counts"], rows)
    )


def lineage_page() -> str:
    from spark_zsc.options import BY_KEY, OPTIONS
    from spark_zsc.spark.lineage import (
        EMBEDDING_SCORING,
        FIELDS,
        LABEL_SETTINGS,
        LATER_ENGINE_SETTINGS,
        LATER_LABEL_SETTINGS,
        STATUSES,
    )

    hashed = [*LABEL_SETTINGS, *LATER_LABEL_SETTINGS, *LATER_ENGINE_SETTINGS, *EMBEDDING_SCORING]
    setting_rows = [[code(BY_KEY[key].param), "always"] for key in LABEL_SETTINGS]
    setting_rows += [
        [code(BY_KEY[key].param), "when set (not at its default)"] for key in LATER_LABEL_SETTINGS
    ]
    setting_rows += [
        [code(BY_KEY[key].param), f"as the tasks run it, when not {usual}"]
        for key, usual in LATER_ENGINE_SETTINGS.items()
    ]
    setting_rows += [[code(BY_KEY[key].param), "under strategy embedding"] for key in EMBEDDING_SCORING]
    left_out = [code(option.param) for option in OPTIONS if option.param and option.key not in hashed]
    return (
        HEADER + "# Lineage\n\n"
        "The `<output-col>_meta` struct the jobs write beside each result (the Transformer's\n"
        "`lineageCol`, the SQL function's `<name>_meta` with `lineage=True`).\n\n"
        "## Fields\n\n"
        + table(["field", "type", "what"], [[code(name), kind, doc] for name, kind, doc in FIELDS])
        + "\n## Statuses\n\n"
        + table(["status", "meaning"], [[code(name), doc] for name, doc in STATUSES.items()])
        + "\n## What `config_sha256` hashes\n\n"
        "The models' fingerprints (`model_sha256`, `embedding_model_sha256`), the fixed labels, and:\n\n"
        + table(["setting", "counted"], setting_rows)
        + "\n`precision` counts as the tasks run it: `auto` is fp16 where they run on a GPU, fp32 on\n"
        "the CPU. Settings added after 0.2.0 count only when set, so rows written before them stay\n"
        "current. Everything else changes speed or where results go, not labels, and stays out: "
        + ", ".join(left_out)
        + ".\n"
    )


def summaries_page() -> str:
    import dataclasses

    from spark_zsc.jobs.classify import ClassifySummary
    from spark_zsc.jobs.distill import DistillSummary
    from spark_zsc.jobs.estimate import Estimate
    from spark_zsc.jobs.evaluate.job import EvaluateSummary
    from spark_zsc.jobs.streaming import StreamSummary

    jobs = {
        "classify": ClassifySummary,
        "stream": StreamSummary,
        "estimate": Estimate,
        "evaluate": EvaluateSummary,
        "distill": DistillSummary,
    }
    sections = [
        f"## {command}\n\n"
        + table(
            ["field", "type"], [[code(field.name), code(field.type)] for field in dataclasses.fields(summary)]
        )
        for command, summary in jobs.items()
    ]
    return (
        HEADER + "# Job summaries\n\n"
        "What each command prints when it is done, and writes as JSON with `--summary-json FILE`; the\n"
        "classify and stream commands also keep it in the run's record beside the output. A counter is\n"
        "`null` where Spark Connect counts nothing (it has no accumulators).\n\n" + "\n".join(sections)
    )


PAGES = {
    "options.md": options_page,
    "metrics.md": metrics_page,
    "lineage.md": lineage_page,
    "summaries.md": summaries_page,
}


def main(argv: list[str]) -> int:
    stale = []
    for name, page in PAGES.items():
        path, text = REFERENCE / name, page()
        if "--check" in argv:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
        else:
            REFERENCE.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print("out of date (run `make docs`): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main(sys.argv[1:]))

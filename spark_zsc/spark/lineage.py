"""Lineage: what produced each row's label, as a struct column beside the result.

`FIELDS` and `STATUSES` say what each holds (the docs' reference page is made from them).
`config_sha256` and `text_sha256` are what an incremental run compares: a row is done when
both are unchanged.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Optional

from pyspark.sql import Column
from pyspark.sql import functions as F

from ..options import BY_KEY, ClassifierConfig

# name, SQL type, what it holds
FIELDS = (
    (
        "model",
        "STRING",
        "the model whose scores are the result (the NLI model; the sentence encoder under strategy embedding), as given",
    ),
    ("model_sha256", "STRING", "that model's weights' sha256 fingerprint"),
    ("model_revision", "STRING", "its hub commit (null for a local folder)"),
    ("strategy", "STRING", "how labels were scored: nli, embedding, or distilled (a student of a teacher)"),
    ("embedding_model", "STRING", "the sentence encoder, where one runs (strategy embedding, shortlist)"),
    ("embedding_model_sha256", "STRING", "its weights' sha256 fingerprint"),
    ("shortlist", "INT", "the shortlist's k (null: none)"),
    ("labels", "ARRAY<STRING>", "the fixed labels (null when they come per row)"),
    ("template", "STRING", "the hypothesis template"),
    ("multi_label", "BOOLEAN", "whether each label was scored alone"),
    ("text_sha256", "STRING", "sha256 of the row's text as classified (UTF-8)"),
    ("config_sha256", "STRING", "one hash of every setting that changes a label (see below)"),
    ("version", "STRING", "spark_zsc's version"),
    ("classified_at", "TIMESTAMP", "the run's time (UTC)"),
    ("status", "STRING", "classified, or why not (see below)"),
)
FIELD_ORDER = tuple(name for name, _, _ in FIELDS)
LINEAGE_SQL_TYPE = "STRUCT<" + ", ".join(f"{name}: {kind}" for name, kind, _ in FIELDS) + ">"
STATUSES = {
    "classified": "the row has its result",
    "below_min_score": "classified, but its top score is under minScore: label null (or otherLabel)",
    "null_text": "not classified: the text is null",
    "invalid_text": "not classified: the text's bytes are not UTF-8",
    "blank_text": "not classified: the text is empty or whitespace",
    "no_labels": "not classified: the row's labels are null, empty or all blank",
    "corrupt_record": "not classified: the reader could not parse the record (jobs only; kept in _corrupt_record)",
}
# the options (by key) whose values change a label; the models count by their fingerprints
LABEL_SETTINGS = ("strategy", "shortlist", "hypothesis_template", "multi_label", "max_length", "precision")
# settings added after 0.2.0 count only when set, so rows written before them stay current
LATER_LABEL_SETTINGS = (
    "label_descriptions",
    "min_score",
    "other_label",
    "long_text",
    "window_overlap",
    "max_windows",
)
# what runs the model counts where it is not torch, so rows torch labelled stay current
LATER_ENGINE_SETTINGS = {"backend": "torch"}
EMBEDDING_SCORING = (
    "temperature",
    "threshold",
)  # they change labels where the encoder's scores are the result


@dataclass(frozen=True)
class Lineage:
    """The run-wide part of the lineage (everything but the row's text and status)."""

    fields: dict  # model, model_sha256, ... version: the literal fields
    config: dict  # what changes a label, hashed into config_sha256
    # what ran the model: backend and precision, as the tasks run them
    engine: dict = field(default_factory=dict)

    @classmethod
    def of(cls, options: ClassifierConfig, bundles: dict, labels: Optional[list]) -> "Lineage":
        """From checked classifier options, the models' bundles (kind -> ModelBundle) and the fixed labels."""
        from .. import __version__

        strategy = options.strategy
        scorer = bundles["embedding" if strategy == "embedding" else "nli"]
        encoder = bundles.get("embedding")
        config = {key: getattr(options, key) for key in LABEL_SETTINGS}
        config.update(
            {
                key: getattr(options, key)
                for key in LATER_LABEL_SETTINGS
                if getattr(options, key) != BY_KEY[key].default
            }
        )
        config.update(
            {
                key: getattr(options, key)
                for key, usual in LATER_ENGINE_SETTINGS.items()
                if getattr(options, key) != usual
            }
        )
        if strategy == "embedding":
            config.update({key: getattr(options, key) for key in EMBEDDING_SCORING})
        config.update(
            model_sha256=scorer.fingerprint,
            embedding_model_sha256=encoder.fingerprint if encoder else None,
            labels=list(labels) if labels is not None else None,
        )
        fields = {
            "model": scorer.name,
            "model_sha256": scorer.fingerprint,
            "model_revision": scorer.revision,
            "strategy": strategy,
            "embedding_model": encoder.name if encoder else None,
            "embedding_model_sha256": encoder.fingerprint if encoder else None,
            "shortlist": options.shortlist,
            "labels": config["labels"],
            "template": options.hypothesis_template,
            "multi_label": options.multi_label,
            "version": __version__,
        }
        return cls(fields, config, {"backend": options.backend, "precision": options.precision})

    @property
    def config_sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.config, sort_keys=True).encode()).hexdigest()

    def run_record(self, options: dict) -> dict:
        """What a run's record says produced its rows: the config and its hash, the engine that
        ran (named even where the hash leaves it out: torch), and the job's options."""
        return {
            "config_sha256": self.config_sha256,
            "config": self.config,
            "engine": self.engine,
            "options": options,
        }

    def sql(self, text: str, labels: Optional[str], result: str, classified_at: str) -> str:
        """The lineage struct as a SQL expression over the row's `text`, its per-row `labels`
        (None: the fixed labels) and its result struct."""
        fields = {name: sql_literal(value) for name, value in self.fields.items()}
        fields["labels"] = labels or sql_literal(self.fields["labels"])
        fields["text_sha256"] = f"sha2({text}, 256)"
        fields["config_sha256"] = sql_literal(self.config_sha256)
        fields["classified_at"] = classified_at
        below = self.config.get("min_score")  # set only where minScore is
        below_min_score = (
            f"WHEN {result}.score < {below!r} THEN 'below_min_score' " if below is not None else ""
        )
        # A text is UTF-8 where encoding it gives its own bytes back: encode() goes through a Java
        # string, which replaces every byte that is not UTF-8 (Spark 3.5 has no is_valid_utf8).
        fields["status"] = (
            f"CASE WHEN {text} IS NULL THEN 'null_text' "
            f"WHEN {result}.labels IS NULL THEN "
            f"CASE WHEN CAST({text} AS BINARY) <> encode({text}, 'UTF-8') THEN 'invalid_text' "
            rf"WHEN {text} RLIKE '(?U)^\\s*$' THEN 'blank_text' "
            f"ELSE 'no_labels' END {below_min_score}ELSE 'classified' END"
        )
        struct = ", ".join(f"'{name}', {fields[name]}" for name in FIELD_ORDER)
        return f"CAST(named_struct({struct}) AS {LINEAGE_SQL_TYPE})"

    def column(self, text: str, result: str, classified_at: datetime) -> Column:
        """The lineage struct of each row of a DataFrame, from its text column and (null-fixed) result column."""
        stamp = f"TIMESTAMP '{classified_at.strftime('%Y-%m-%d %H:%M:%S.%f')}+00:00'"
        return F.expr(self.sql(_column(text), None, _column(result), stamp))


def _column(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def sql_literal(value) -> str:
    """A SQL literal of a Python value (strings escaped, lists as arrays)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return f"array({', '.join(map(sql_literal, value))})" if value else "CAST(array() AS ARRAY<STRING>)"
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"

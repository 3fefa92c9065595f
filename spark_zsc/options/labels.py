"""Labels, templates and descriptions as users give them, parsed and checked: the rules the
HF pipeline follows where it has one (labels split on commas), and this project's where it has
none (blank labels refused, a template with exactly one `{}`)."""

from __future__ import annotations

import string
from typing import Optional, Sequence, Union

from ..errors import ConfigError

DEFAULT_TEMPLATE = "This example is {}."


def parse_candidate_labels(
    labels: Union[str, Sequence[str], None], option: str = "candidateLabels"
) -> list[str]:
    """Fixed candidate labels: a list, or one string split on commas as the pipeline does.

    A blank entry in a list is a mistake here (unlike in a per-row labels column, where it is
    data and dropped); a repeated label is kept once, first occurrence first.
    """
    if labels is None:
        return []
    if isinstance(labels, str):
        return split_labels(labels)
    if not isinstance(labels, (list, tuple)):
        raise ConfigError(f"{option} must be a list of labels or one comma-separated string, got {labels!r}")
    cleaned = []
    for position, label in enumerate(labels):
        if not isinstance(label, str) or not label.strip():
            raise ConfigError(
                f"{option} holds a blank or non-string label at position {position} ({label!r}): "
                "remove it or give it a name"
            )
        cleaned.append(label)
    return list(dict.fromkeys(cleaned))


def split_labels(labels: str) -> list[str]:
    """Labels from one string, as the HF pipeline splits them: on commas, stripped, blanks
    dropped (and, here, repeats kept once)."""
    return list(dict.fromkeys(label.strip() for label in labels.split(",") if label.strip()))


def validate_template(template: str, option: str = "hypothesisTemplate") -> str:
    """A hypothesis template must hold exactly one `{}` where the label goes."""
    if not isinstance(template, str):
        raise ConfigError(f"{option} must be a string with one {{}} for the label, got {template!r}")
    try:
        placeholders = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as error:
        raise ConfigError(
            f"{option} {template!r} is not a valid template ({error}); write {{{{ and }}}} for literal braces"
        ) from None
    if placeholders != [""]:
        raise ConfigError(
            f"{option} {template!r} must contain exactly one {{}} where the label goes "
            f"(found {len(placeholders)} placeholder(s)); e.g. {DEFAULT_TEMPLATE!r}"
        )
    return template


def check_label_descriptions(value, name: str) -> Optional[dict]:
    """label -> description, from a mapping (Param, SQL, YAML) or NAME=DESCRIPTION items (the
    repeated `--label` flag: one item per flag, so a description may hold commas)."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, (list, tuple)):
        pairs = []
        for item in value:
            label, sep, description = str(item).partition("=")
            if not sep:
                raise ConfigError(
                    f'{name} {item!r} must be NAME=DESCRIPTION, e.g. "billing=a charge, an invoice or a refund"'
                )
            pairs.append((label.strip(), description.strip()))
    elif isinstance(value, dict):
        pairs = list(value.items())
    else:
        raise ConfigError(f"{name} must map each label to its description, got {value!r}")
    for label, description in pairs:
        if not isinstance(label, str) or not label.strip():
            raise ConfigError(f"{name} has a description for a blank label ({label!r}): name the label")
        if not isinstance(description, str) or not description.strip():
            raise ConfigError(
                f"{name} gives label {label!r} a blank description: describe it, or leave it out"
            )
    return {label.strip(): description.strip() for label, description in pairs} or None


def check_label_name(value: str, name: str) -> str:
    if not value.strip():
        raise ConfigError(f"{name} must be a label name, got {value!r}")
    return value

"""The jobs' commands: each one's options (its flags and YAML keys), the config it builds, and
how flags, a YAML file (`--config`) and defaults make that config, checked before any Spark
session starts. Flags override the YAML file, which overrides the defaults."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import ConfigError
from ..options import JOB, Option
from .distill_options import DistillConfig
from .evaluate.option_table import EVALUATE_OPTIONS
from .evaluate.options import EvaluateConfig
from .option_table import (
    BY_KEY_JOB,
    CLASSIFY_OPTIONS,
    DISTILL_JOB_OPTIONS,
    ESTIMATE_OPTIONS,
    NOT_IN_A_STREAM,
    STREAM_ONLY,
    STREAM_OPTIONS,
    STUDENT_ONLY,
)
from .options import ClassifyConfig


@dataclass(frozen=True)
class Command:
    """A command: `options` are what a user gives it; its config takes them, renamed by
    `renamed` (option -> config field), with `implied` for the config's fields it does not take."""

    name: str
    help: str
    config: type
    options: tuple[Option, ...]
    implied: Mapping[str, Any] = field(default_factory=dict)
    renamed: Mapping[str, str] = field(default_factory=dict)

    def build(self, values: Mapping[str, Any]) -> Any:
        """The command's config from `values` named as its options are (absent: the default),
        each value checked by its option, then the config's rules."""
        checked = {
            self.renamed.get(option.job_name, option.job_name): option.validate(
                values.get(option.job_name), JOB
            )
            for option in self.options
        }
        return self.config(**checked, **self.implied)


COMMANDS = {
    command.name: command
    for command in (
        Command(
            "classify", "classify a file or table into a file or table", ClassifyConfig, CLASSIFY_OPTIONS
        ),
        Command(
            "stream",
            "classify what arrived in a folder or table since the last run (classify --stream)",
            ClassifyConfig,
            STREAM_OPTIONS,
            implied={"stream": True, **{name: BY_KEY_JOB[name].default for name in NOT_IN_A_STREAM}},
        ),
        Command(
            "estimate",
            "write nothing: measure on a sample what the run would cost (classify --estimate)",
            ClassifyConfig,
            ESTIMATE_OPTIONS,
            implied={name: BY_KEY_JOB[name].default for name in (*STREAM_ONLY, *STUDENT_ONLY)},
            renamed={"sample_rows": "estimate"},
        ),
        Command(
            "evaluate",
            "measure accuracy against a gold column, for several templates and label wordings",
            EvaluateConfig,
            EVALUATE_OPTIONS,
        ),
        Command(
            "distill",
            "train a cheap student on a sample the model labels, measure their agreement, and write it "
            "(classify --student applies it)",
            DistillConfig,
            DISTILL_JOB_OPTIONS,
        ),
    )
}


def add_job_arguments(parser: argparse.ArgumentParser, command: str = "classify") -> None:
    """One flag per option; unset flags stay absent so that YAML values are not overridden."""
    parser.add_argument("--config", help="YAML file with the same options as keys (flags override it)")
    for option in COMMANDS[command].options:
        kwargs: dict[str, Any] = dict(help=option.doc, default=argparse.SUPPRESS, dest=option.job_name)
        kind = option.kind if option.kind in (int, float) else str
        if option.kind is bool:
            parser.add_argument(option.flag, action="store_true", **kwargs)
        elif option.repeatable:
            parser.add_argument(
                option.flag, action="append", type=kind, metavar=option.job_name.upper(), **kwargs
            )
        else:
            bare: dict[str, Any] = (
                {} if option.bare_value is None else {"nargs": "?", "const": option.bare_value}
            )
            parser.add_argument(option.flag, type=kind, choices=option.choices or None, **bare, **kwargs)


def _known_names(command: str) -> list[str]:
    return [option.job_name for option in COMMANDS[command].options]


def load_yaml(path: str, command: str = "classify") -> dict:
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            values = yaml.safe_load(handle) or {}
    except OSError as error:
        raise ConfigError(f"--config {path!r} cannot be read: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"--config {path!r} is not valid YAML: {error}") from None
    if not isinstance(values, dict):
        raise ConfigError(
            f"--config {path!r} must hold a mapping of option: value, not {type(values).__name__}"
        )
    names = _known_names(command)
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ConfigError(
            f"--config {path!r} has unknown key(s) {', '.join(unknown)}; known keys: {', '.join(names)}"
        )
    return values


def build_job_options(flags: dict, command: str = "classify") -> Any:
    """Defaults <- YAML (`config`) <- flags: the command's config, every value checked by its
    option, then the rules that tie them together; nothing here needs Spark."""
    flags = dict(flags)
    path = flags.pop("config", None)
    values = load_yaml(path, command) if path else {}
    values.update(flags)
    unknown = sorted(set(values) - set(_known_names(command)))
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(unknown)}")
    return COMMANDS[command].build(values)

"""How an option is declared: its names on each face, type, default, choices, doc and check."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Optional

from ..errors import ConfigError
from .labels import parse_candidate_labels

PARAM, SQL, JOB = "param", "sql", "job"  # the faces
LABELS = "labels"  # kind of an option holding labels: a list, or one comma-separated string


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


_SAME = "<same>"  # a face's name defaults to the Param's name in snake case


@dataclass(frozen=True)
class Option:
    """One option. `param` is its Transformer Param (None: not one), `sql` its SQL function
    argument and `job` its YAML key (None: not on that face; by default the Param's name
    in snake case). `check(value, name)` returns the value to use or raises ConfigError."""

    param: Optional[str]
    kind: Any  # str, int, float, bool, LABELS, or object (anything YAML holds)
    default: Any
    doc: str
    choices: tuple = ()
    least: Optional[int] = None  # for ints: the smallest value allowed
    check: Optional[Callable[[Any, str], Any]] = None
    sql: Optional[str] = _SAME
    job: Optional[str] = _SAME
    repeatable: bool = False  # a job flag given several times (YAML: a list)
    flag_name: Optional[str] = None  # the job flag, where it is not the YAML key with dashes
    bare_value: Any = None  # set: the job flag's value is optional, and a bare flag (YAML: true) means this

    @property
    def key(self) -> str:
        """The snake_case name the options are keyed by (SQL argument, dataclass field)."""
        if self.param:
            return snake_case(self.param)
        name = self.job if self.job not in (None, _SAME) else self.sql
        if name is None:
            raise ValueError("an option without a Param needs a job or SQL name")
        return name

    def name(self, face: str) -> Optional[str]:
        if face == PARAM:
            return self.param
        spelled = self.sql if face == SQL else self.job
        return self.key if spelled == _SAME else spelled

    def named(self, face: str) -> str:
        """The option's name on `face`, which it is on."""
        name = self.name(face)
        if name is None:
            raise ValueError(f"{self.key} is not a {face} option")
        return name

    @property
    def job_name(self) -> str:
        """The YAML key of an option the jobs take (its flag: the same with dashes)."""
        return self.named(JOB)

    @property
    def flag(self) -> str:
        return "--" + (self.flag_name or self.job_name.replace("_", "-"))

    def validate(self, value, face: str):
        """`value` checked as `face` received it; None stands for the default. A repeatable
        option takes a list (or one value, or for YAML a mapping) and checks each item."""
        name = self.name(face) or self.key
        if value is None or value is self.default:  # a default is valid as declared
            return self.default
        if self.bare_value is not None and isinstance(value, bool):  # YAML `key: true` is the bare flag
            return self.bare_value if value else self.default
        if self.repeatable and not isinstance(value, dict):
            items = list(value) if isinstance(value, (list, tuple)) else [value]
            if self.kind is object and self.check:  # the check reads the items together
                return self.check(items, name)
            return [self._validate_one(item, name) for item in items]
        return self._validate_one(value, name)

    def _validate_one(self, value, name: str):
        if self.kind is int and (
            isinstance(value, bool)
            or not isinstance(value, int)
            or (self.least is not None and value < self.least)
        ):
            least = "" if self.least is None else f", {self.least} or more"
            raise ConfigError(f"{name} must be an integer{least}; got {value!r}")
        if self.kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{name} must be a number, got {value!r}")
            value = float(value)
        if self.kind is bool and not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, got {value!r}")
        if self.kind is str and not isinstance(value, str):
            raise ConfigError(f"{name} must be a string, got {value!r}")
        if self.kind == LABELS:
            value = parse_candidate_labels(value, name)
        if self.choices and value not in self.choices:
            raise ConfigError(f"{name} must be one of {', '.join(self.choices)}; got {value!r}")
        return self.check(value, name) if self.check else value

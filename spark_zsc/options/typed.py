"""Typed, frozen configs made from option tables.

`config_class` makes a frozen dataclass with one field per option of a table: named as one
face names it, typed by the option's kind, defaulting to its default. Building one checks
every value by its option (`Option.validate`), then the rules that tie options together
(`check_rules`, which each config class states in one place). The classes are made at import
from the tables, so a type checker cannot read their fields from the code: `stubs.py` writes
them into a `.pyi` beside each module that makes them, and a test keeps those current.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Sequence

from .declaration import JOB, LABELS, PARAM, Option

_TYPE_NAMES = {str: "str", int: "int", float: "float", bool: "bool", LABELS: "list[str]", object: "Any"}


def field_name(option: Option, face: str) -> str:
    """The field an option fills: its YAML key for the jobs, its key (snake case) otherwise."""
    return option.job_name if face == JOB else option.key


def type_name(option: Option) -> str:
    """The type a checked value has, as Python spells it: a repeated option holds a list, an
    option without a default may hold None."""
    name = _TYPE_NAMES[option.kind]
    if option.repeatable and option.kind is not object:
        name = f"Sequence[{name}]"
    if option.default is None and option.kind is not object:
        name = f"Optional[{name}]"
    return name


class Config:
    """What every config made by `config_class` does: check its values, then its rules."""

    OPTIONS: ClassVar[tuple[Option, ...]] = ()
    FACE: ClassVar[str] = PARAM  # the face the fields are named by
    face: str  # the face the values came from: errors spell option names as it does

    def __post_init__(self) -> None:
        for option in self.OPTIONS:
            name = field_name(option, self.FACE)
            object.__setattr__(self, name, option.validate(getattr(self, name), self.face))
        self.derive()
        self.check_rules()

    def derive(self) -> None:
        """Fill the values that follow from others (each value is checked already)."""

    def _derived(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)  # frozen: only while the config is built

    def check_rules(self) -> None:
        """The rules between this config's options (each value is checked already)."""

    @classmethod
    def field_names(cls) -> list[str]:
        return [field_name(option, cls.FACE) for option in cls.OPTIONS]

    def replace(self, **changes: Any) -> Any:
        """This config with some values changed, checked again with its rules."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def as_dict(self) -> dict:
        """The options' values by field name."""
        return {name: getattr(self, name) for name in self.field_names()}


def config_class(name: str, options: Sequence[Option], face: str, module: str, doc: str) -> type:
    """A frozen dataclass `name` (defined in `module`) with a field per option named by `face`
    and a `face` field saying which face gave the values (errors spell option names so)."""

    # the defaults are immutable (str, numbers, None, tuples), as dataclass defaults must be
    fields: list[tuple[str, Any, Any]] = [
        (field_name(option, face), type_name(option), option.default) for option in options
    ]
    fields.append(("face", "str", dataclasses.field(default=face, compare=False, repr=False)))
    return dataclasses.make_dataclass(
        name,
        fields,
        bases=(Config,),
        frozen=True,
        namespace={"OPTIONS": tuple(options), "FACE": face, "__doc__": doc, "__module__": module},
    )

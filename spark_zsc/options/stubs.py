"""The `.pyi` stubs of the modules whose classes are made from option tables at import, so that
type checkers know their fields and methods: the configs' fields (`options/fields.py`,
`jobs/fields.py`) and the Transformer's Params, getters and setters (`spark/params.py`).

    python -m spark_zsc.options.stubs          write them
    python -m spark_zsc.options.stubs --check  exit 1 naming each stub out of date
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from .declaration import LABELS, PARAM
from .typed import type_name

PACKAGE = Path(__file__).resolve().parent.parent
HEADER = "# Written by `python -m spark_zsc.options.stubs` from the option tables: do not edit.\n"


def _config_stub(module) -> str:
    """Each config class `module` makes, as a frozen dataclass of typed fields."""
    from .typed import Config, field_name

    classes = [
        value for value in vars(module).values() if isinstance(value, type) and issubclass(value, Config)
    ]
    made = [cls for cls in classes if cls.__module__ == module.__name__]
    body = []
    for cls in made:
        body += ["", "@dataclass(frozen=True)", f"class {cls.__name__}(Config):"]
        body += [f"    {field_name(o, cls.FACE)}: {type_name(o)} = ..." for o in cls.OPTIONS]
        body.append("    face: str = ...")
    text = "\n".join(body)
    typing_names = [name for name in ("Any", "Optional", "Sequence") if re.search(rf"\b{name}\b", text)]
    lines = [
        HEADER,
        "from dataclasses import dataclass",
        f"from typing import {', '.join(typing_names)}",
        "",
        "from spark_zsc.options.typed import Config",
        *body,
    ]
    return "\n".join(lines) + "\n"


def _params_stub() -> str:
    """The Params mixin: one typed Param, getter and setter per option on the Param face."""
    from ..spark import params

    lines = [
        HEADER,
        "import inspect",
        "from typing import Any, Callable, Iterable, Optional, TypeVar",
        "",
        "from pyspark.ml.param import Param, Params",
        "",
        "from spark_zsc.options import Option",
        "",
        "PARAM_OPTIONS: tuple[Option, ...]",
        '_P = TypeVar("_P", bound="ZeroShotParams")',
        "",
        "def keyword_signature() -> inspect.Signature: ...",
        "def unknown_params(names: Iterable[str]) -> list[str]: ...",
        "def capitalized(name: str) -> str: ...",
        "def param_getter(option: Option) -> Callable[..., Any]: ...",
        "def param_setter(option: Option) -> Callable[..., Any]: ...",
        "",
        "class ZeroShotParams(Params):",
        "    def __init__(self, *args: Any) -> None: ...",
    ]
    for option in params.PARAM_OPTIONS:
        value_type = type_name(option)
        given_type = f"{value_type} | str" if option.kind == LABELS else value_type  # "a,b" is split
        param = option.named(PARAM)
        accessor = param[0].upper() + param[1:]
        lines += [
            f"    {param}: Param[Any]",
            f"    def get{accessor}(self) -> {value_type}: ...",
            f"    def set{accessor}(self: _P, value: {given_type}) -> _P: ...",
        ]
    return "\n".join(lines) + "\n"


def stubs() -> dict[Path, str]:
    """Each stub's path and text."""
    from ..jobs import fields as job_fields
    from . import fields

    return {
        PACKAGE / "options" / "fields.pyi": _config_stub(fields),
        PACKAGE / "jobs" / "fields.pyi": _config_stub(job_fields),
        PACKAGE / "spark" / "params.pyi": _params_stub(),
    }


def main(argv: list[str]) -> int:
    stale = []
    for path, text in stubs().items():
        if "--check" in argv:
            if not path.is_file() or path.read_text() != text:
                stale.append(path)
        else:
            path.write_text(text)
    for path in stale:
        print(f"{path.relative_to(PACKAGE.parent)} is out of date: run python -m spark_zsc.options.stubs")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

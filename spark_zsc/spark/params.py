"""The ZeroShotClassifier's Params, made from the option table (`spark_zsc.options`).

One pyspark.ml `Param` per option on the Param face, with its doc and type converter, a
default where the option has one, and `getX`/`setX` methods, exactly as pyspark.ml's own
feature Transformers spell them (`getTokenBudget`, `setTokenBudget`). Values are checked
when the Transformer runs, on the driver, by the same checks as every other face.
"""

from __future__ import annotations

import inspect

from pyspark.ml.param import Param, Params, TypeConverters

from ..options import LABELS, PARAM, on_face, split_labels


def _to_labels(value):
    """A list of labels, or one string split on commas as the HF pipeline does."""
    if isinstance(value, str):
        return split_labels(value)
    return TypeConverters.toList(value)


_CONVERTERS = {
    str: TypeConverters.toString,
    int: TypeConverters.toInt,
    float: TypeConverters.toFloat,
    bool: TypeConverters.toBoolean,
    LABELS: _to_labels,
    object: TypeConverters.identity,  # labelDescriptions: a dict, checked when the Transformer runs
}

PARAM_OPTIONS = on_face(PARAM)


def capitalized(name: str) -> str:
    return name[0].upper() + name[1:]


def param_getter(option):
    def get(self):
        param = getattr(self, option.param)
        if option.default is None and not self.isDefined(param):
            return None
        return self.getOrDefault(param)

    get.__doc__ = f"The value of {option.param}" + (" (None when unset)." if option.default is None else ".")
    return get


def param_setter(option):
    def set_(self, value):
        return self._set(**{option.param: value})

    set_.__doc__ = f"Set {option.param}: {option.doc}"
    return set_


class ZeroShotParams(Params):
    """Params from the option table; `_setDefault` from its defaults."""

    def __init__(self, *args):
        super().__init__(*args)
        self._setDefault(**{o.param: o.default for o in PARAM_OPTIONS if o.default is not None})


for _option in PARAM_OPTIONS:
    setattr(
        ZeroShotParams,
        _option.param,
        Param(Params._dummy(), _option.param, _option.doc, typeConverter=_CONVERTERS[_option.kind]),
    )
    setattr(ZeroShotParams, f"get{capitalized(_option.param)}", param_getter(_option))
    setattr(ZeroShotParams, f"set{capitalized(_option.param)}", param_setter(_option))


def keyword_signature() -> inspect.Signature:
    """`(self, *, model=None, inputCol=None, ...)`: what the keyword-only constructor takes."""
    return inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [inspect.Parameter(o.param, inspect.Parameter.KEYWORD_ONLY, default=None) for o in PARAM_OPTIONS]
    )


def unknown_params(names) -> list[str]:
    known = {o.param for o in PARAM_OPTIONS}
    return sorted(set(names) - known)

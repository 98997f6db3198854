"""The config schema checker: dataclass fields with ``typing`` annotations are the schema.

A config section is a frozen dataclass; each field's annotation says what a YAML value may be, and
:func:`build` turns a mapping into the dataclass, checking every value when the config is loaded
(before any image is read). Declaring a field is all it takes to have it checked:

- ``Literal["nearest", "bilinear"]``: a closed set of values (strings, integers, booleans, null);
  a typo fails with ``FILE: preprocess.resize_method: 'cubic' is not one of nearest, bilinear``;
- ``bool``, ``int``, ``float``, ``str``; ``tuple[int, int]`` (a list of two), ``tuple[str, ...]``;
  ``Mapping[str, X]`` (values checked as ``X``); another dataclass (a nested section); ``Any``;
- unions (``X | None``: null allowed; ``Literal["minority"] | Mapping[str, int] | None``);
- ranges and other constraints with ``Annotated``: ``Annotated[int, Range(ge=1)]`` (aliases
  :data:`PositiveInt`, :data:`NonNegInt`, :data:`PositiveFloat`, :data:`NonNegFloat`,
  :data:`Fraction`), ``Annotated[tuple[str, ...], Choices(("a", "b"), ("b",))]`` for a closed set of
  lists;
- the keyword arguments of a call: ``Annotated[Mapping[str, Any], Keywords(SomeKeywords)]`` checks
  the mapping's keys and values against the dataclass ``SomeKeywords`` and keeps the mapping as
  written (the callee's defaults apply to the keys left out).

Modules using ``from __future__ import annotations`` must import the names their annotations use
(``Literal``, ``Annotated``, the aliases) at module level, where :func:`typing.get_type_hints` finds
them. :func:`enumerated_fields` lists every closed set of a section tree (documentation and tests).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Mapping

from cxr_core.errors import CxrError

__all__ = [
    "Choices", "ConfigError", "Fraction", "Keywords", "NonNegFloat", "NonNegInt", "PositiveFloat", "PositiveInt",
    "Range",
    "build", "check", "enumerated_fields",
]


class ConfigError(CxrError):
    """An experiment config is malformed; the message names the file (or ``--set``) and the key.

    ``key`` is the dotted key path (``preprocess.resize_method``) and ``detail`` the message without
    its origin, so a caller that knows better where a value came from can name that instead.
    """

    def __init__(self, message: str, *, key: str | None = None, detail: str | None = None):
        super().__init__(message)
        self.key = key
        self.detail = detail if detail is not None else message


@dataclass(frozen=True)
class Range:
    """Bounds for a number: ``ge``/``gt`` below, ``le``/``lt`` above (``None``: unbounded)."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    def contains(self, value: float) -> bool:
        return ((self.ge is None or value >= self.ge) and (self.gt is None or value > self.gt)
                and (self.le is None or value <= self.le) and (self.lt is None or value < self.lt))

    def describe(self) -> str:
        low = ("[", self.ge) if self.ge is not None else ("(", self.gt) if self.gt is not None else None
        high = ("]", self.le) if self.le is not None else (")", self.lt) if self.lt is not None else None
        if low and high:
            return f"in {low[0]}{_num(low[1])}, {_num(high[1])}{high[0]}"
        if low:
            return f"{'>=' if low[0] == '[' else '>'} {_num(low[1])}"
        if high:
            return f"{'<=' if high[0] == ']' else '<'} {_num(high[1])}"
        return ""


@dataclass(frozen=True)
class Choices:
    """A closed set of values that ``Literal`` cannot spell (lists): ``Choices(("a", "b"), ("b",))``."""

    values: tuple

    def __init__(self, *values: Any):
        object.__setattr__(self, "values", tuple(values))


@dataclass(frozen=True)
class Keywords:
    """A mapping of keyword arguments checked against the dataclass ``schema`` (its fields are the
    keywords, their annotations the allowed values): ``Annotated[Mapping[str, Any], Keywords(X)]``.
    The checked value is the mapping with the keys given (each converted as its field says)."""

    schema: type


PositiveInt = Annotated[int, Range(ge=1)]
NonNegInt = Annotated[int, Range(ge=0)]
PositiveFloat = Annotated[float, Range(gt=0)]
NonNegFloat = Annotated[float, Range(ge=0)]
Fraction = Annotated[float, Range(gt=0, lt=1)]
"""A fraction strictly between 0 and 1 (a holdout or validation share)."""


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _text(value: Any) -> str:
    """A value as the user writes it in YAML: ``true``, ``null``, ``nearest``, ``[a, b]``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    return str(value)


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _is_mapping_type(tp: Any) -> bool:
    return tp in (Mapping, dict) or typing.get_origin(tp) in (Mapping, dict, typing.get_origin(Mapping[str, Any]))


def _strip(tp: Any) -> Any:
    return typing.get_args(tp)[0] if typing.get_origin(tp) is Annotated else tp


def _alternatives(tp: Any) -> list[str]:
    """How to write a value of ``tp``, one entry per alternative (for messages)."""
    tp = _strip(tp)
    if typing.get_origin(tp) is Literal:
        return [_text(v) for v in typing.get_args(tp)]
    if tp is bool:
        return ["true", "false"]
    if tp is int:
        return ["an integer"]
    if tp is float:
        return ["a number"]
    if tp is str:
        return ["a string"]
    if tp is type(None):
        return ["null"]
    if _is_mapping_type(tp) or _is_dataclass_type(tp):
        return ["a mapping (key: value)"]
    if typing.get_origin(tp) is tuple:
        return ["a list"]
    if _is_union(tp):
        return [alt for arm in typing.get_args(tp) for alt in _alternatives(arm)]
    return [str(tp)]


def _kind_fits(tp: Any, value: Any) -> bool:
    """Whether ``value`` is the right kind of thing for ``tp``, ignoring its exact value."""
    tp = _strip(tp)
    if tp is Any:
        return True
    if typing.get_origin(tp) is Literal:
        return any(type(value) is type(v) for v in typing.get_args(tp))
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if _is_mapping_type(tp) or _is_dataclass_type(tp):
        return isinstance(value, Mapping)
    if typing.get_origin(tp) is tuple:
        return isinstance(value, (list, tuple))
    return True


def _yaml_number_hint(value: Any) -> str:
    """YAML 1.1 reads ``1e-8`` (no dot) as text: say how to write it as a number."""
    try:
        number = float(value) if isinstance(value, str) else None
    except ValueError:
        return ""
    if number is None or "e" not in value.lower():
        return ""
    mantissa, exponent = value.lower().split("e", 1)
    return f" (YAML reads {value} as text; write {mantissa if '.' in mantissa else mantissa + '.0'}e{exponent})"


def _fail(origin: str, key: str, detail: str) -> ConfigError:
    return ConfigError(f"{origin}: {detail}", key=key, detail=detail)


def _not_one_of(origin: str, key: str, value: Any, alternatives: list[str]) -> ConfigError:
    shown = _text(value) if isinstance(value, (list, tuple)) else repr(value)
    return _fail(origin, key, f"{key}: {shown} is not one of {', '.join(alternatives)}")


def check(tp: Any, value: Any, key: str, origin: str = "<config>", *, nullable: bool = False) -> Any:
    """``value`` checked against the annotation ``tp`` (and converted: lists to tuples, ints to floats).

    ``key`` is the dotted key path and ``origin`` the file or ``--set`` named in the message.
    Raises :class:`ConfigError`.
    """
    or_null = " or null" if nullable else ""
    if typing.get_origin(tp) is Annotated:
        base, *meta = typing.get_args(tp)
        value = check(base, value, key, origin, nullable=nullable)
        for m in meta:
            if value is None:
                break
            if isinstance(m, Range) and not m.contains(value):
                raise _fail(origin, key, f"{key} must be {_alternatives(base)[0]} {m.describe()}{or_null}, "
                                         f"found {value!r}")
            if isinstance(m, Choices) and value not in m.values:
                raise _not_one_of(origin, key, value, [_text(c) for c in m.values] + (["null"] if nullable else []))
            if isinstance(m, Keywords):
                built = build(m.schema, value, key, origin)
                value = {name: getattr(built, name) for name in value}
        return value
    if tp is Any:
        return value
    if _is_union(tp):
        arms = [a for a in typing.get_args(tp) if a is not type(None)]
        nullable = nullable or len(arms) < len(typing.get_args(tp))
        if value is None:
            if nullable:
                return None
            raise _fail(origin, key, f"{key} may not be null")
        fitting = [a for a in arms if _kind_fits(a, value)]
        if len(fitting) == 1 and len(arms) == 1:
            return check(fitting[0], value, key, origin, nullable=nullable)
        for arm in fitting:
            try:
                return check(arm, value, key, origin, nullable=nullable)
            except ConfigError as exc:
                last = exc
        if len(fitting) == 1 and typing.get_origin(_strip(fitting[0])) is not Literal:
            raise last
        alternatives = [alt for arm in arms for alt in _alternatives(arm)]
        raise _not_one_of(origin, key, value, alternatives + (["null"] if nullable else []))
    if value is None:
        if nullable:
            return None
        raise _fail(origin, key, f"{key} may not be null")
    if typing.get_origin(tp) is Literal:
        allowed = typing.get_args(tp)
        if not any(type(value) is type(v) and value == v for v in allowed):
            raise _not_one_of(origin, key, value, _alternatives(tp) + (["null"] if nullable else []))
        return value
    if _is_dataclass_type(tp):
        return build(tp, value, key, origin)
    if tp is bool:
        if not isinstance(value, bool):
            raise _fail(origin, key, f"{key} must be true or false{or_null}, found {value!r}")
        return value
    if tp is int:
        if not _kind_fits(int, value):
            raise _fail(origin, key, f"{key} must be an integer{or_null}, found {value!r}")
        return value
    if tp is float:
        if not _kind_fits(float, value):
            raise _fail(origin, key, f"{key} must be a number{or_null}, found {value!r}{_yaml_number_hint(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise _fail(origin, key, f"{key} must be a string{or_null}, found {value!r}")
        return value
    if _is_mapping_type(tp):
        if not isinstance(value, Mapping):
            raise _fail(origin, key, f"{key} must be a mapping (key: value){or_null}, found {value!r}")
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is not Any:
            return {k: check(args[1], v, f"{key}.{k}", origin) for k, v in value.items()}
        return value
    if typing.get_origin(tp) is tuple:
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise _fail(origin, key, f"{key} must be a list{or_null}, found {value!r}")
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(check(args[0], v, f"{key}[{i}]", origin) for i, v in enumerate(value))
        if args and args != ((),):
            if len(value) != len(args):
                raise _fail(origin, key, f"{key} must be a list of {len(args)}, found {list(value)!r}")
            return tuple(check(a, v, f"{key}[{i}]", origin) for i, (a, v) in enumerate(zip(args, value)))
        return tuple(value)
    return value


def build(cls: type, raw: Any, where: str = "", origin: str = "<config>") -> Any:
    """The dataclass ``cls`` from the mapping ``raw`` (``None``: all defaults), every field checked.

    ``where`` is the dotted path of the section (``train``, ``extra.coronanet``). Unknown keys are
    refused with the keys that exist. Raises :class:`ConfigError`.
    """
    if raw is None:
        return cls()
    if not isinstance(raw, Mapping):
        raise _fail(origin, where, f"{where or 'the config'} must be a mapping, found {type(raw).__name__}: {raw!r}")
    hints = typing.get_type_hints(cls, include_extras=True)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in raw if k not in names]
    if unknown:
        key = f"{where + '.' if where else ''}{unknown[0]}"
        raise _fail(origin, key, f"unknown key {key}; allowed keys{' in ' + where if where else ''}: {names}")
    kwargs = {}
    for name in names:
        if name in raw:
            kwargs[name] = check(hints[name], raw[name], f"{where}.{name}" if where else name, origin)
    return cls(**kwargs)


def enumerated_fields(cls: type, where: str = "") -> dict[str, tuple]:
    """Every field of the section tree ``cls`` with a closed set of values: ``{"a.b": (values...)}``.

    ``Literal`` values, ``Choices`` values and ``null`` where allowed; the fields of nested sections
    are included with their dotted paths.
    """
    out: dict[str, tuple] = {}
    for name, tp in typing.get_type_hints(cls, include_extras=True).items():
        key = f"{where}.{name}" if where else name
        arms = typing.get_args(tp) if _is_union(tp) else (tp,)
        values: list = []
        for arm in arms:
            if arm is type(None):
                continue
            if typing.get_origin(arm) is Annotated:
                values += [c for m in typing.get_args(arm)[1:] if isinstance(m, Choices) for c in m.values]
                for m in typing.get_args(arm)[1:]:
                    if isinstance(m, Keywords):
                        out.update(enumerated_fields(m.schema, key))
            arm = _strip(arm)
            if typing.get_origin(arm) is Literal:
                values += list(typing.get_args(arm))
            elif _is_dataclass_type(arm):
                out.update(enumerated_fields(arm, key))
        if values:
            out[key] = tuple(values) + ((None,) if type(None) in arms else ())
    return out

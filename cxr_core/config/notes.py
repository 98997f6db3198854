"""A preset's deviation notes, recomputed for the values an experiment ends up with.

A preset (:class:`cxr_core.family.Preset`) carries one note per ``section.field`` it chose, with
the source tag of that choice. The note is true only while the field keeps the preset's value: when
an experiment YAML, ``--set`` or :func:`cxr_core.config.experiment.replace` gives the field another value,
:func:`deviation_notes` replaces the note by a line naming the value in force (the preset's value and
note kept in brackets). The resolved config carries these lines as ``deviations``; each run writes
them to its ``config.yaml`` and the report lists them.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import yaml

MISSING = object()
"""What :func:`lookup` returns for a key the tree does not hold."""


def dotted_keys(tree: Mapping, prefix: str = "", *, opaque: Iterable[str] = ()) -> set[str]:
    """Every key path of a nested mapping (``{"a": {"b": 1}}`` -> ``{"a", "a.b"}``); the mappings
    under an ``opaque`` key are values, not further keys."""
    opaque = set(opaque)
    keys = set()
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        keys.add(dotted)
        if isinstance(value, Mapping) and key not in opaque:
            keys |= dotted_keys(value, dotted + ".", opaque=opaque)
    return keys


def dotted_leaves(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf of a nested mapping by its dotted key path, in the tree's order:
    ``{"train": {"epochs": 3, "options": {}}, "a": [1, 2]}`` -> ``{"train.epochs": 3, "train.options": {},
    "a": [1, 2]}``. Lists, ``None`` and empty mappings are leaves (values, not further keys); a tree that
    is no mapping, or an empty one, has no leaves (``{}``)."""
    if isinstance(tree, Mapping) and tree:
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(dotted_leaves(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: tree} if prefix else {}


def lookup(tree: Mapping, dotted: str) -> Any:
    """The value at a dotted key path, or :data:`MISSING`."""
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return MISSING
        node = node[part]
    return node


def same_value(a: Any, b: Any) -> bool:
    """Equal as config values: lists and tuples alike, ``1 == 1.0``, but ``true != 1``."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def yaml_text(value: Any) -> str:
    """A value as one line of YAML flow style (``[150, 150]``, ``nearest``, ``null``)."""
    text = yaml.safe_dump(_plain(value), default_flow_style=True, width=10**6).strip()
    return text.removesuffix("...").strip()


def _note_states_value(note: str, value: Any) -> bool:
    """Whether ``note`` opens with ``value`` (``area: ...``, ``150x150: ...``, ``3 steps``), so that
    quoting the value again would repeat it."""
    forms = {yaml_text(value), str(value)}
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, (int, float)) for v in value):
        forms.add("x".join(str(v) for v in value))
    return any(note.startswith(form + sep) for form in forms for sep in (":", " ", ","))


def deviation_notes(notes: Iterable[str], preset: Mapping, merged: Mapping, preset_name: str) -> list[str]:
    """The preset's ``"key: note"`` lines for the values of ``merged``.

    A note stands while its key keeps the preset's value; a key with another value gets
    ``"key: VALUE, set by this experiment (not the preset's note: preset NAME has OLD: NOTE)"`` (without
    ``has OLD`` where NOTE opens with the old value), so the report never shows a note that no longer
    applies.
    """
    out = []
    for line in notes:
        key, _, note = line.partition(": ")
        was, now = lookup(preset, key), lookup(merged, key)
        if was is MISSING or now is MISSING or same_value(was, now):
            out.append(line)
        else:
            has = "" if _note_states_value(note, was) else f" has {yaml_text(was)}"
            out.append(f"{key}: {yaml_text(now)}, set by this experiment (not the preset's note: preset "
                       f"{preset_name}{has}: {note})")
    return out

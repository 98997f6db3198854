"""One way to move weights into a model: copy by layer name, with a report of what happened.

Every loader of the project goes through :func:`copy_weights`: a paper's released file (Keras-2
HDF5, read by :mod:`cxr_core.weights.files`), a converted PyTorch checkpoint (arrays by layer name),
another Keras model (a fine-tune start, a phase's donor), or our own Keras 3 ``.weights.h5``.
Matching is by layer name, never by position; every count and shape is checked before anything is
assigned, so a file that does not fit changes nothing. The result is a :class:`TransferReport`:
layers filled, target layers the source lacks, source layers the target lacks, and layers whose
shapes differ (both shapes). ``strict=True`` raises :class:`WeightFileError` naming the first layer
that differs.

Auto-numbered layer names (``dense``, ``dense_1`` ...) differ between Keras lines and sessions:
Keras 2.3.1 numbers from 1, tf.keras from 0, and a session that built other layers first starts
higher [CN], [CVR-T]. :func:`numbered_members` and :func:`renumber_map` are the one normaliser that
pairs such layers in numbering (= creation) order.

Importable from :mod:`cxr_core.weights.load` too, with the loaders of whole files.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Collection, Iterable, Mapping

import numpy as np

from cxr_core.weights.files import WeightFileError, read_keras2_weights, weight_file_format
from cxr_core.weights.guess import does_not_fit, looks_like, quiet_keras

__all__ = [
    "PROBLEMS", "TransferReport", "auto_name_index", "copy_weights", "numbered_members",
    "read_keras3_weights", "renumber_map", "weighted_layers",
]

#: What :func:`copy_weights` can find wrong; ``allow`` tolerates some of them in strict mode.
PROBLEMS = ("not_in_source", "not_in_target", "mismatched")

_AUTO_NAME = re.compile(r"^(?P<stem>.+?)(?:_(?P<n>\d+))?$")


# ------------------------------------------------------------------------------ auto-numbered names
def auto_name_index(name: str, stem: str) -> int | None:
    """``0`` for ``stem``, ``N`` for ``stem_N``, ``None`` for any other name."""
    if name == stem:
        return 0
    match = _AUTO_NAME.match(name)
    if match and match.group("n") is not None and match.group("stem") == stem:
        return int(match.group("n"))
    return None


def numbered_members(names: Iterable[str], stem: str) -> list[str]:
    """The names ``stem``, ``stem_N`` among ``names``, in numbering order (``stem`` counts as 0)."""
    found = [(index, name) for name in names if (index := auto_name_index(name, stem)) is not None]
    return [name for _, name in sorted(found)]


def renumber_map(
    ours: Iterable[str],
    theirs: Iterable[str],
    stems: Iterable[str] | Mapping[str, str],
    *,
    expected: Mapping[str, int] | None = None,
    source: str = "",
) -> dict[str, str]:
    """Our auto-numbered layer name -> theirs, pairing the k-th of each stem with the k-th.

    Args:
        ours, theirs: layer names of the target and the source.
        stems: the auto-numbered stems (``"dense"``), or our stem -> their stem (``{"xce_conv2d":
            "conv2d"}``) where the source names them without our prefix.
        expected: stem -> how many members the source must have with consecutive numbers (any start);
            a stem whose counts differ is otherwise left unmapped (the transfer then names it).
        source: for error messages.

    Returns:
        Only the pairs whose names differ.

    Raises:
        WeightFileError: a stem of ``expected`` does not have that many consecutively numbered members.
    """
    ours, theirs = list(ours), list(theirs)
    pairs = stems.items() if isinstance(stems, Mapping) else ((s, s) for s in stems)
    where = f"{source}: " if source else ""
    mapping: dict[str, str] = {}
    for our_stem, their_stem in pairs:
        mine, found = numbered_members(ours, our_stem), numbered_members(theirs, their_stem)
        if expected and our_stem in expected:
            indices = [auto_name_index(n, their_stem) for n in found]
            count = expected[our_stem]
            if len(found) != count or (found and indices != list(range(indices[0], indices[0] + count))):
                raise WeightFileError(
                    f"{where}expected {count} weight-bearing layers named {their_stem}_<n> with consecutive "
                    f"numbers (Keras 2.3.1 numbers from 1, tf.keras from 0), found {len(found)}: {found}"
                )
        if mine and len(mine) == len(found):
            mapping.update({a: b for a, b in zip(mine, found) if a != b})
    return mapping


# ------------------------------------------------------------------------------ layers and sources
def weighted_layers(model) -> "OrderedDict[str, Any]":
    """Every layer of ``model`` that owns weights, nested models flattened, in model order.

    Raises ``ValueError`` when two such layers share a name (they could not be mapped by name).
    """
    import keras

    found: OrderedDict[str, Any] = OrderedDict()

    def visit(layer) -> None:
        if isinstance(layer, keras.Model):
            for sub in layer.layers:
                visit(sub)
        elif layer.weights:
            if layer.name in found:
                raise ValueError(f"model {model.name!r} has two weight-bearing layers named {layer.name!r}")
            found[layer.name] = layer

    visit(model)
    return found


def read_keras3_weights(path: str | Path, like) -> "OrderedDict[str, list[np.ndarray]]":
    """Layer name -> weights of a Keras 3 ``.weights.h5`` / ``.keras`` file, for the layers it fills.

    Keras 3 files key weights by object path, not by layer name, so they are read through a model:
    a ``.keras`` archive is loaded itself (safe mode); a ``.weights.h5`` file into a clone of
    ``like`` (same architecture; layers of another shape, e.g. a head with another class count,
    are skipped and absent from the result).

    Raises:
        WeightFileError: the file cannot be read as Keras weights for this architecture (one line,
            with the model family the file looks like).
    """
    import keras

    path = Path(path)
    if weight_file_format(path) == "keras3_archive":
        try:
            donor = keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as exc:  # Keras raises many types; the message names the file
            raise WeightFileError(does_not_fit(path, like, exc)) from None
        return OrderedDict((n, layer.get_weights()) for n, layer in weighted_layers(donor).items())
    donor = keras.models.clone_model(like)
    layers = weighted_layers(donor)
    for layer in layers.values():  # NaN marks what the file did not fill
        layer.set_weights([np.full(w.shape, np.nan, dtype=w.dtype) for w in layer.get_weights()])
    try:
        with quiet_keras():
            donor.load_weights(path, skip_mismatch=True)
    except (ValueError, OSError, KeyError) as exc:
        raise WeightFileError(does_not_fit(path, like, exc)) from None
    filled = OrderedDict()
    for name, layer in layers.items():
        arrays = layer.get_weights()
        if not any(np.isnan(a).any() for a in arrays if a.dtype.kind == "f"):
            filled[name] = arrays
    return filled


def _source_arrays(source, target_model) -> tuple["Mapping[str, list[np.ndarray]]", str]:
    """(layer name -> arrays, description) for any source :func:`copy_weights` accepts."""
    import keras

    if isinstance(source, keras.Model):
        return OrderedDict((n, l.get_weights()) for n, l in weighted_layers(source).items()), f"model {source.name!r}"
    if isinstance(source, Mapping):
        return source, "the source"
    path = Path(source)
    kind = weight_file_format(path)
    if kind.startswith("keras2"):
        return read_keras2_weights(path), str(path)
    if kind.startswith("keras3"):
        if target_model is None:
            raise TypeError(f"{path}: a Keras 3 file is read through a model; pass the target as a keras.Model")
        return read_keras3_weights(path, target_model), str(path)
    raise WeightFileError(f"{path}: a {kind} file, not Keras weights; convert it first{looks_like(path)}")


# ------------------------------------------------------------------------------ the transfer
@dataclass
class TransferReport:
    """What :func:`copy_weights` did (target order throughout).

    Attributes:
        source: the file or model read.
        filled: target layers that received weights.
        not_in_source: target layers the source lacks (left as they were).
        not_in_target: source layers no target layer took (ignored).
        mismatched: target layer -> (expected shapes, the source's shapes); left as they were.
        renamed: target layer -> source layer, where the names differ.
        skipped: target layers excluded by the caller (``skip``).
    """

    source: str
    filled: list[str] = field(default_factory=list)
    not_in_source: list[str] = field(default_factory=list)
    not_in_target: list[str] = field(default_factory=list)
    mismatched: dict[str, tuple[list[tuple[int, ...]], list[tuple[int, ...]]]] = field(default_factory=dict)
    renamed: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for logs."""
        parts = [f"{self.source}: {len(self.filled)} layers filled"]
        for label, names in (("not in the source", self.not_in_source), ("not in the model", self.not_in_target),
                             ("skipped", self.skipped)):
            if names:
                parts.append(f"{len(names)} {label} ({', '.join(names[:5])}{' ...' if len(names) > 5 else ''})")
        for name, (expected, found) in list(self.mismatched.items())[:3]:
            parts.append(f"{name} mis-shaped: expected {expected}, found {found}")
        if len(self.mismatched) > 3:
            parts.append(f"{len(self.mismatched) - 3} more mis-shaped")
        return "; ".join(parts)


def _first_problem(report: TransferReport, allowed: Collection[str], where: str, targets) -> str | None:
    """The message for the first problem not in ``allowed``: missing/mis-shaped in target order, then unused."""
    for name in targets:
        theirs = report.renamed.get(name, name)
        label = f"{name!r}" + (f" (source name {theirs!r})" if theirs != name else "")
        if name in report.not_in_source and "not_in_source" not in allowed:
            shapes = [tuple(w.shape) for w in targets[name].weights]
            return (f"{where}first layer that differs: {label} is missing from the source; "
                    f"expected {len(shapes)} weights with shapes {shapes}")
        if name in report.mismatched and "mismatched" not in allowed:
            expected, found = report.mismatched[name]
            return f"{where}first layer that differs: {label}: expected weights with shapes {expected}, found {found}"
    extra = report.not_in_target
    if extra and "not_in_target" not in allowed:
        return (f"{where}the source holds {len(extra)} weight-bearing layer(s) the model lacks, first {extra[0]!r} "
                f"(all: {extra[:10]}{' ...' if len(extra) > 10 else ''})")
    return None


def copy_weights(
    target,
    source,
    *,
    name_map: Mapping[str, str] | None = None,
    skip: Iterable[str] = (),
    strict: bool = True,
    allow: Collection[str] = (),
    source_name: str | None = None,
) -> TransferReport:
    """Copy weights into ``target`` by layer name, checking every count and shape first.

    Args:
        target: a ``keras.Model`` (nested models flattened, see :func:`weighted_layers`) or a mapping
            layer name -> layer (a subset, e.g. a backbone's layers).
        source: a ``keras.Model``; a mapping layer name -> list of arrays in ``layer.get_weights()``
            order (float32 etc., any shapes); or the path of a Keras-2 HDF5 file (full model or
            weights-only) or a Keras 3 ``.weights.h5`` / ``.keras`` file (read through ``target``,
            which must then be a model).
        name_map: target layer name -> source layer name where they differ (see :func:`renumber_map`).
        skip: target layers to leave alone; their source layers do not count as unused.
        strict: raise on the first problem not in ``allow``; ``False`` copies what fits and reports
            the rest.
        allow: problems tolerated in strict mode, from :data:`PROBLEMS`.
        source_name: the source in messages (default: the path or the model's name).

    Returns:
        A :class:`TransferReport`.

    Raises:
        WeightFileError: strict mode, naming the source and the first layer that differs (missing,
            another number of weights, other shapes) or the first unused source layer. Nothing is
            assigned then.
    """
    import keras

    unknown = set(allow) - set(PROBLEMS)
    if unknown:
        raise ValueError(f"allow: unknown problem(s) {sorted(unknown)}; expected some of {PROBLEMS}")
    model = target if isinstance(target, keras.Model) else None
    targets = weighted_layers(target) if model is not None else OrderedDict(target)
    stored, described = _source_arrays(source, model)
    report = TransferReport(source=source_name or described)
    name_map = dict(name_map or {})
    skip = set(skip)
    used: set[str] = {name_map.get(name, name) for name in skip}
    plan = []
    for name, layer in targets.items():
        theirs = name_map.get(name, name)
        if theirs != name:
            report.renamed[name] = theirs
        if name in skip:
            report.skipped.append(name)
            continue
        if theirs not in stored:
            report.not_in_source.append(name)
            continue
        used.add(theirs)
        expected = [tuple(w.shape) for w in layer.weights]
        found = [tuple(np.shape(a)) for a in stored[theirs]]
        if found != expected:
            report.mismatched[name] = (expected, found)
            continue
        plan.append((name, layer, stored[theirs]))
    report.not_in_target = [name for name in stored if name not in used]
    if strict:
        where = f"{report.source}: " if report.source else ""
        message = _first_problem(report, allow, where, targets)
        if message:
            raise WeightFileError(message)
    for name, layer, arrays in plan:
        layer.set_weights(arrays)
        report.filled.append(name)
    return report

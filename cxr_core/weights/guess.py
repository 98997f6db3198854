"""Which registered model family a weight file looks like, and the one-line errors that say so.

Shared by the loaders (:mod:`cxr_core.weights.load`) and the transfer (:mod:`cxr_core.weights.transfer`):
a file that does not fit a model ends in one line naming the family whose files it resembles (each
family recognises its own, ``WeightsPart.recognise``), without Keras' per-layer warnings.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from pathlib import Path

from cxr_core.weights.files import WeightFileSummary, describe_weight_file

__all__ = ["does_not_fit", "guess_family", "looks_like", "quiet_keras"]


@contextmanager
def quiet_keras():
    """Keras warns once per layer it skips (127-257 lines for a file of another model)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def guess_family(summary: WeightFileSummary) -> str | None:
    """The name of the first registered model family that recognises the file, else ``None``."""
    from cxr_core.family import iter_families

    for family in iter_families():
        recognise = family.weights.recognise
        if recognise is not None and recognise(summary):
            return family.name
    return None


def looks_like(path: Path) -> str:
    """``"; the file looks like weights of a 'coronet' model (keras2_full)"``, or that it matches no
    family; ``""`` when the file cannot be described (this only decorates an error raised anyway)."""
    try:
        summary = describe_weight_file(path)
        name = guess_family(summary)
    except Exception:  # the guess only decorates an error that is raised anyway
        return ""
    if name:
        return f"; the file looks like weights of a {name!r} model ({summary.format})"
    return f"; its layers ({summary.format}) match no registered model family"


def does_not_fit(path: Path, model, exc: BaseException) -> str:
    """One line: ``path``, ``model``'s name, the first weight whose shape differs (the model's variable and
    both shapes), the input size of the run that saved the file when it sits in a run directory, Keras'
    first line of ``exc`` when no shape differs, and :func:`looks_like`."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    first = first.split(" Example error message")[0].rstrip(":")  # Keras then lists one object's error
    detail = _first_shape_difference(path, model) or first
    return f"{path}: does not fit model {getattr(model, 'name', '?')!r} ({detail}){_saved_by(path)}{looks_like(path)}"


def _first_shape_difference(path: Path, model) -> str | None:
    """``"layer dense: kernel (2048, 4) in the model, (512, 4) in the file"``: the file's weights and the
    model's paired in their stored order (the order Keras 3 saves them in), or None when the order cannot
    be paired (another model, another format)."""
    try:
        summary = describe_weight_file(path)
    except Exception:  # only decorates an error raised anyway
        return None
    if not summary.format.startswith("keras3"):
        return None
    stored = [shape for shapes in summary.layers.values() for shape in shapes]
    variables = list(getattr(model, "weights", []))
    if len(stored) != len(variables):
        return f"the file holds {len(stored)} weight arrays, the model {len(variables)}"
    for var, shape in zip(variables, stored):
        if tuple(var.shape) != tuple(shape):
            where = str(getattr(var, "path", var.name))
            layer, _, name = where.rpartition("/")
            return f"layer {layer or '?'}: {name} {tuple(var.shape)} in the model, {tuple(shape)} in the file"
    return None


def _saved_by(path: Path) -> str:
    """``"; the file comes from run RUN, input 71x71 (a smoke run)"`` when a run directory holds it."""
    import yaml

    for folder in list(Path(path).resolve().parents)[:4]:
        config = folder / "config.yaml"
        if config.is_file():
            try:
                record = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
                size = record["config"]["preprocess"]["image_size"]
            except Exception:  # not a run's config.yaml
                return ""
            smoke = " (a smoke run)" if record.get("smoke") else ""
            return f"; the file comes from run {folder}, input {size[0]}x{size[1]}{smoke}"
    return ""

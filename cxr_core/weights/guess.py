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
    """One line: ``path``, ``model``'s name, Keras' first line of ``exc`` and :func:`looks_like`."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    first = first.split(" Example error message")[0].rstrip(":")  # Keras then lists one object's error
    return f"{path}: does not fit model {getattr(model, 'name', '?')!r} ({first}){looks_like(path)}"

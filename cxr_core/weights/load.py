"""Loading weight files into models: our Keras 3 files, a family's released files, fine-tune starts.

:func:`load_keras_weights` reads our own Keras 3 files, :func:`load_weights_for` sends a file to the
model family that reads it (refusing, in one line, a file another family recognises), and
:func:`init_from_file` starts a model from another model's file, every layer that fits by name
(``model.init_from``). A file saved from another model ends in one line that says which registered
model family the file looks like (:mod:`cxr_core.weights.guess`), without Keras' per-layer warnings.

The transfer every loader goes through (copy by layer name with a :class:`TransferReport`, the
auto-numbered name normaliser) lives in :mod:`cxr_core.weights.transfer`; its names are importable
from here too, as before.
"""

from __future__ import annotations

import logging
from pathlib import Path

from cxr_core.weights.files import WeightFileError, describe_weight_file
from cxr_core.weights.guess import does_not_fit, guess_family, looks_like, quiet_keras
from cxr_core.weights.transfer import TransferReport, copy_weights, weighted_layers

log = logging.getLogger(__name__)

__all__ = ["init_from_file", "load_keras_weights", "load_weights_for"]


def load_keras_weights(model, path: str | Path):
    """``model.load_weights(path)`` for our own Keras 3 files, without Keras' per-layer warnings.

    Raises:
        FileNotFoundError: no file at ``path``.
        WeightFileError: one line: the file, Keras' first line, and which family the file looks like.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weight file not found: {path}")
    try:
        with quiet_keras():
            model.load_weights(path)
    except (ValueError, OSError, KeyError) as exc:
        raise WeightFileError(does_not_fit(path, model, exc)) from None
    return model


def load_weights_for(family, model, path: str | Path):
    """Load ``path`` into ``model`` of ``family`` (a :class:`cxr_core.family.ModelFamily`).

    Keras 3 files go to :func:`load_keras_weights`, other files to ``family.weights.load`` (the
    paper's released formats). A file that another registered family recognises and ``family`` does
    not is refused first, in one line naming that family.
    """
    path = Path(path)
    summary = describe_weight_file(path)
    guess = guess_family(summary)
    ours = family.weights.recognise
    if guess and guess != family.name and not (ours and ours(summary)):
        raise WeightFileError(f"{path}: looks like weights of a {guess!r} model ({summary.format}), not {family.name!r}")
    if summary.format.startswith("keras3"):
        return load_keras_weights(model, path)
    if family.weights.load is None:
        raise WeightFileError(f"model family {family.name!r} cannot load {path.name} ({summary.format}); "
                              "give a Keras 3 .weights.h5 file")
    return family.weights.load(model, str(path)) or model


def init_from_file(model, path: str | Path, *, min_fraction: float = 0.5) -> TransferReport:
    """Start ``model`` from another model's weights file: every layer that fits, by name.

    The default ``model.init_from`` (families with their own loader set
    ``WeightsPart.init``): a Keras 3 ``.weights.h5`` / ``.keras`` or Keras-2 HDF5 file of the
    same architecture, typically with a head of another class count (CoroNet's 3- and 2-class models
    fine-tune the 4-class one [S4]). Layers the file does not fill keep their fresh weights and are
    logged.

    Raises:
        FileNotFoundError: no file at ``path``.
        WeightFileError: the file fills fewer than ``min_fraction`` of the model's weight-bearing
            layers (naming the first it does not fill and the family the file looks like), or cannot
            be read.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model.init_from: weight file not found: {path}")
    report = copy_weights(model, path, strict=False, source_name=str(path))
    total = len(report.filled) + len(report.not_in_source) + len(report.mismatched)
    if len(report.filled) < min_fraction * total:
        fresh = [n for n in weighted_layers(model) if n not in report.filled]
        raise WeightFileError(
            f"model.init_from: {path} fits only {len(report.filled)} of the model's {total} weight-bearing layers; "
            f"first layer it does not fill: {fresh[0]!r}{looks_like(path)}"
        )
    if report.not_in_source or report.mismatched:
        log.info("model.init_from: %s", report.summary())
    return report

"""Export a trained model for use outside this package, and check the export predicts the same.

Formats:

* ``keras``: the Keras 3 native ``.keras`` archive (architecture + weights) via ``model.save``.
  Reload with ``keras.models.load_model(path, safe_mode=True, compile=False)``; the paper
  packages' custom layers (e.g. ``cvrnet_tf.CaffePreprocess``) are registered serialisable, so
  importing the package before loading is all that is needed.
* ``savedmodel``: a TensorFlow SavedModel folder via ``model.export(path)`` (endpoint ``serve``,
  inference mode), for TF Serving / TFLite converters / ``tf.saved_model.load`` or
  ``keras.layers.TFSMLayer(path, call_endpoint="serve")``. No Python code of this project is
  needed to load it.

Both are written under a temporary name beside the destination and renamed into place, so an
interrupted export leaves nothing half-written. :func:`verify_export` reloads the result and
compares its predictions with the original model's (the ``export_model`` default).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

FORMATS = ("keras", "savedmodel")


def export_path(out: str | os.PathLike, format: str) -> Path:
    """Destination path: ``OUT.keras`` for ``keras`` (suffix added when missing), ``OUT`` (a folder)
    for ``savedmodel``."""
    out = Path(out)
    if format == "keras":
        return out if out.suffix == ".keras" else out.with_name(out.name + ".keras")
    if format == "savedmodel":
        return out
    raise ValueError(f"export format: expected one of {FORMATS}, found {format!r}")


def _outputs(value) -> list[np.ndarray]:
    if isinstance(value, dict):
        value = list(value.values())
    if not isinstance(value, (list, tuple)):
        value = [value]
    return [np.asarray(v.numpy() if hasattr(v, "numpy") else v, dtype=np.float64) for v in value]


def load_exported(path: str | os.PathLike, format: str):
    """A callable ``f(images) -> list of output arrays`` for an exported model."""
    path = Path(path)
    if format == "keras":
        import keras

        model = keras.models.load_model(path, safe_mode=True, compile=False)
        return lambda x: _outputs(model(x, training=False))
    if format == "savedmodel":
        import tensorflow as tf

        loaded = tf.saved_model.load(str(path))
        return lambda x: _outputs(loaded.serve(tf.convert_to_tensor(x, tf.float32)))
    raise ValueError(f"export format: expected one of {FORMATS}, found {format!r}")


def sample_inputs(model, n: int = 2, seed: int = 0, *, high: float = 1.0) -> np.ndarray:
    """``n`` random images of the model's input shape, uniform in ``[0, high)`` (float32)."""
    shape = tuple(model.inputs[0].shape[1:])
    if any(s is None for s in shape):
        raise ValueError(f"sample_inputs: model input shape {shape} is not fully defined")
    return np.random.default_rng(seed).uniform(0.0, high, (n, *shape)).astype(np.float32)


def verify_export(model, path: str | os.PathLike, format: str, images=None, *,
                  atol: float = 1e-4, rtol: float = 1e-4) -> float:
    """Reload the export at ``path`` and compare every output with ``model``'s on ``images``
    (default: :func:`sample_inputs`). Returns the largest absolute difference; raises
    ``AssertionError`` naming the output when one differs beyond ``atol + rtol * |expected|``."""
    x = sample_inputs(model) if images is None else np.asarray(images, dtype=np.float32)
    expected = _outputs(model(x, training=False))
    found = load_exported(path, format)(x)
    if len(found) != len(expected):
        raise AssertionError(f"export {path}: {len(found)} output(s), the model has {len(expected)}")
    worst = 0.0
    for i, (e, f) in enumerate(zip(expected, found)):
        if e.shape != f.shape:
            raise AssertionError(f"export {path}: output {i} has shape {f.shape}, expected {e.shape}")
        diff = float(np.max(np.abs(e - f))) if e.size else 0.0
        if not np.allclose(f, e, atol=atol, rtol=rtol):
            raise AssertionError(f"export {path} ({format}): output {i} differs from the model by "
                                 f"up to {diff:.3g} (atol {atol}, rtol {rtol})")
        worst = max(worst, diff)
    return worst


def export_model(model, out: str | os.PathLike, format: str = "keras", *, verify: bool = True,
                 images=None) -> Path:
    """Write ``model`` as ``format`` (``keras`` -> ``OUT.keras``, ``savedmodel`` -> folder ``OUT``)
    atomically and, with ``verify``, check that the reloaded export predicts the same
    (:func:`verify_export`). An existing destination is replaced. Returns the written path."""
    dest = export_path(out, format)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if format == "keras":
        from cxr_core.io import atomic_path

        with atomic_path(dest, suffix=".keras") as tmp:
            model.save(tmp)
    else:
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
        try:
            target = tmp / "savedmodel"
            model.export(str(target), format="tf_saved_model", verbose=False)
            old = None
            if dest.exists():
                old = dest.with_name(f".{dest.name}.old")
                if old.exists():
                    shutil.rmtree(old)
                os.replace(dest, old)
            os.replace(target, dest)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if verify:
        verify_export(model, dest, format, images)
    return dest


# ----------------------------------------------------------------------------------------------
# command line: covid-cxr export
# ----------------------------------------------------------------------------------------------
def add_export_parser(sub) -> argparse.ArgumentParser:
    """Add ``export`` to the ``covid-cxr`` subparsers ``sub``."""
    p = sub.add_parser(
        "export", help="export a model with its weights as .keras or TensorFlow SavedModel",
        description="Build the model, load the weights, write it as a Keras 3 .keras archive or a "
                    "TensorFlow SavedModel folder, reload it and check it predicts the same.")
    p.add_argument("out", help="destination: OUT.keras (keras) or folder OUT (savedmodel)")
    p.add_argument("--model", default="coronet", help="model family: coronet, cvrnet, coronanet (default coronet)")
    p.add_argument("--preset", default="authors_code", help="preset giving the input size (default authors_code)")
    p.add_argument("--config", help="experiment YAML instead of --model/--preset")
    p.add_argument("--weights", required=True, help="weights: our .weights.h5, or the authors' released file")
    p.add_argument("--class-names", help="comma-separated class names in output order (default: the preset's)")
    p.add_argument("--format", choices=FORMATS, default="keras", help="keras (default) or savedmodel")
    p.add_argument("--no-verify", action="store_true", help="skip reloading the export and comparing predictions")
    p.set_defaults(func=cmd_export)
    return p


def cmd_export(args) -> int:
    """``covid-cxr export``: load the model like ``predict`` and export it."""
    from cxr_core.cli import _inference_setup, _log

    _, _, model, _ = _inference_setup(args)
    path = export_model(model, args.out, args.format, verify=not args.no_verify)
    _log(f"exported {model.name} as {args.format}: {path}"
         + ("" if args.no_verify else " (reloaded: same predictions)"))
    print(path)
    return 0

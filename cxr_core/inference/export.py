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

Metadata: with ``metadata`` (``covid-cxr export`` passes :func:`inference_metadata`), the export
carries a ``covid_cxr.json``: the model family, class names in output order, the preprocessing
(input size, resize method, scaling, ``pre_resize``), the resolved config, the sha256 of the weights
exported and the software versions (:mod:`cxr_core.runs.provenance`). In a ``.keras`` archive (a zip) it
is one more member beside ``config.json`` and ``model.weights.h5``, which
``keras.models.load_model(..., safe_mode=True)`` ignores; in a SavedModel folder it is a file at the
top. :func:`read_export_metadata` reads it back, and :func:`cxr_core.load_classifier` on an exported
file uses it to preprocess images as the model was trained.

Both are written under a temporary name beside the destination and renamed into place, so an
interrupted export leaves nothing half-written. :func:`verify_export` reloads the result and
compares its predictions with the original model's (the ``export_model`` default); a difference
raises :class:`ExportMismatchError`, one line with the measured difference. ``covid-cxr
export`` (:func:`cxr_core.cli.main.cmd_export`) builds the model and calls :func:`export_model`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from cxr_core.errors import CxrError

FORMATS = ("keras", "savedmodel")
METADATA_NAME = "covid_cxr.json"
METADATA_VERSION = 1


def inference_metadata(inference) -> dict:
    """``covid_cxr.json`` of an :class:`cxr_core.inference.model.InferenceModel`: family, class names,
    output kind, preprocessing, resolved config, the exported weights' sha256, the source run and
    fold, and the software versions."""
    from cxr_core.config.experiment import config_to_dict
    from cxr_core.runs.provenance import environment, weights_record

    pre = inference.cfg.preprocess
    chosen = inference.run_model
    return {
        "format_version": METADATA_VERSION,
        "family": inference.family.name,
        "class_names": list(inference.class_names),
        "output_kind": inference.family.model.output_kind,
        "preprocess": {"image_size": list(pre.image_size), "resize_method": pre.resize_method,
                       "scaling": pre.scaling, "pre_resize": config_to_dict(pre.pre_resize)},
        "config": config_to_dict(inference.cfg),
        "weights": weights_record(inference.weights_path, "exported") if inference.weights_path else None,
        "run": None if chosen is None else {"run_dir": str(Path(chosen.run_dir).resolve()), "fold": chosen.fold,
                                            "smoke": chosen.smoke},
        "environment": environment(),
    }


def read_export_metadata(path: str | os.PathLike) -> dict | None:
    """The ``covid_cxr.json`` of an exported ``.keras`` archive or SavedModel folder (None without one).

    Raises:
        ValueError: a ``.keras`` file that is not a zip archive.
    """
    import json
    import zipfile

    path = Path(path)
    if path.is_dir():
        meta = path / METADATA_NAME
        return json.loads(meta.read_text(encoding="utf-8")) if meta.is_file() else None
    if not zipfile.is_zipfile(path):
        raise CxrError(f"{path}: not a Keras 3 .keras archive (not a zip file)")
    with zipfile.ZipFile(path) as z:
        if METADATA_NAME not in z.namelist():
            return None
        return json.loads(z.read(METADATA_NAME).decode("utf-8"))


def _write_metadata(target: Path, format: str, metadata: dict) -> None:
    import json
    import zipfile

    text = json.dumps(metadata, indent=2, default=str)
    if format == "keras":
        with zipfile.ZipFile(target, "a", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr(METADATA_NAME, text)
    else:
        (Path(target) / METADATA_NAME).write_text(text + "\n", encoding="utf-8")


def export_path(out: str | os.PathLike, format: str) -> Path:
    """Destination path: ``OUT.keras`` for ``keras`` (suffix added when missing), ``OUT`` (a folder)
    for ``savedmodel``."""
    out = Path(out)
    if format == "keras":
        return out if out.suffix == ".keras" else out.with_name(out.name + ".keras")
    if format == "savedmodel":
        return out
    raise CxrError(f"export format: expected one of {FORMATS}, found {format!r}")


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
    raise CxrError(f"export format: expected one of {FORMATS}, found {format!r}")


def sample_inputs(model, n: int = 2, seed: int = 0, *, high: float = 1.0) -> np.ndarray:
    """``n`` random images of the model's input shape, uniform in ``[0, high)`` (float32)."""
    shape = tuple(model.inputs[0].shape[1:])
    if any(s is None for s in shape):
        raise ValueError(f"sample_inputs: model input shape {shape} is not fully defined")
    return np.random.default_rng(seed).uniform(0.0, high, (n, *shape)).astype(np.float32)


class ExportMismatchError(CxrError):
    """The reloaded export predicts differently from the model (one line: path, output, largest difference)."""

    def __init__(self, message: str, difference: float | None = None):
        super().__init__(message)
        self.difference = difference


def verify_export(model, path: str | os.PathLike, format: str, images=None, *,
                  atol: float = 1e-4, rtol: float = 1e-4) -> float:
    """Reload the export at ``path`` and compare every output with ``model``'s on ``images``
    (default: :func:`sample_inputs`). Returns the largest absolute difference.

    Raises:
        ExportMismatchError: an output count or shape differs, or an output differs beyond
            ``atol + rtol * |expected|``; the one-line message names the export, the output and the
            measured largest difference (``.difference``).
    """
    x = sample_inputs(model) if images is None else np.asarray(images, dtype=np.float32)
    expected = _outputs(model(x, training=False))
    found = load_exported(path, format)(x)
    where = f"the reloaded export {path} ({format})"
    if len(found) != len(expected):
        raise ExportMismatchError(f"{where} has {len(found)} output(s), the model has {len(expected)}")
    worst = 0.0
    for i, (e, f) in enumerate(zip(expected, found)):
        if e.shape != f.shape:
            raise ExportMismatchError(f"{where}: output {i} has shape {f.shape}, the model's has {e.shape}")
        diff = float(np.max(np.abs(e - f))) if e.size else 0.0
        if not np.allclose(f, e, atol=atol, rtol=rtol):
            raise ExportMismatchError(
                f"{where} predicts differently from the model: output {i} differs by up to {diff:.3g} on "
                f"{len(x)} sample images (tolerance {atol:g} + {rtol:g} x |value|); the file is kept for "
                "inspection, do not use it", difference=diff)
        worst = max(worst, diff)
    return worst


def export_model(model, out: str | os.PathLike, format: str = "keras", *, verify: bool = True,
                 images=None, metadata: dict | None = None) -> Path:
    """Write ``model`` as ``format`` (``keras`` -> ``OUT.keras``, ``savedmodel`` -> folder ``OUT``)
    atomically and, with ``verify``, check that the reloaded export predicts the same
    (:func:`verify_export`). ``metadata``: written into the export as ``covid_cxr.json`` (see the
    module docstring), and the model card beside it (:mod:`cxr_core.inference.model_card`). An existing
    destination is replaced. Returns the written path."""
    dest = export_path(out, format)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if format == "keras":
        from cxr_core.atomic_files import atomic_path

        with atomic_path(dest, suffix=".keras") as tmp:
            model.save(tmp)
            if metadata is not None:
                _write_metadata(tmp, format, metadata)
    else:
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
        try:
            target = tmp / "savedmodel"
            model.export(str(target), format="tf_saved_model", verbose=False)
            if metadata is not None:
                _write_metadata(target, format, metadata)
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
    if metadata is not None:
        from cxr_core.inference.model_card import write_model_card

        write_model_card(dest, metadata)
    return dest

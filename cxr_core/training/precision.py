"""Numeric precision of training: ``train.mixed_precision`` resolved per machine, loss scaling, and
a record of what each training session actually ran.

``mixed_float16_on_gpu`` is ``mixed_float16`` when TensorFlow sees a GPU and ``float32`` otherwise:
an AMP-O2-like run (float16 compute; float32 variables, i.e. master weights, and float32
BatchNorm statistics; dynamic loss scaling) where float16 is fast, full precision elsewhere.
:func:`cxr_core.training.fit.fit_split` appends each session's precision to
``checkpoints/precision.json`` and :func:`precision_notes` turns those files into the report's lines.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from cxr_core.atomic_files import atomic_write_text
from cxr_core.config.choices import MIXED_PRECISIONS
from cxr_core.errors import CxrError

logger = logging.getLogger(__name__)


PRECISIONS = (None, *MIXED_PRECISIONS)  # null: float32
"""``train.mixed_precision`` values; ``mixed_float16_on_gpu`` resolves by :func:`resolve_precision`."""

LOSS_SCALE_INITIAL = 2.0**16
"""Initial dynamic loss scale under ``mixed_float16``: apex AMP's ``LossScaler`` default (2**16,
doubled after 2000 finite steps, halved and the step skipped on overflow); Keras' own default is
2**15 with the same 2000-step growth."""
LOSS_SCALE_GROWTH_STEPS = 2000
LOSS_SCALE_MAX = 2.0**24
"""apex ``LossScaler``'s cap: ``min(max_loss_scale, 2 * scale)`` at each growth (Keras has none)."""
PRECISION_FILE = "precision.json"


def gpu_available() -> bool:
    """Whether TensorFlow sees a GPU (the device query :func:`resolve_precision` uses)."""
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def resolve_precision(policy: str | None) -> str:
    """The Keras dtype policy ``train.mixed_precision`` asks for on this machine.

    ``None`` / ``float32`` -> ``float32``; ``mixed_float16`` and ``mixed_bfloat16`` as they are;
    ``mixed_float16_on_gpu`` -> ``mixed_float16`` when :func:`gpu_available`, else ``float32``
    (float16 matmuls are slow on CPUs; an apex-O2-like run on a GPU, full precision elsewhere).
    ValueError for another value.
    """
    if policy not in PRECISIONS:
        raise CxrError(f"train.mixed_precision: expected one of {PRECISIONS}, found {policy!r}")
    if policy == "mixed_float16_on_gpu":
        return "mixed_float16" if gpu_available() else "float32"
    return policy or "float32"


def set_precision(policy: str | None) -> str:
    """Set Keras' global dtype policy from ``train.mixed_precision``; returns the policy set.

    ``mixed_float16`` suits GPUs, ``mixed_bfloat16`` CPUs/TPUs, ``mixed_float16_on_gpu`` picks
    (:func:`resolve_precision`). Under ``mixed_float16`` :func:`compile_model` adds dynamic loss
    scaling; variables (and BatchNormalization statistics) stay float32 under every mixed policy.
    """
    import keras

    resolved = resolve_precision(policy)
    keras.mixed_precision.set_global_policy(resolved)
    if policy != resolved:
        logger.info("train.mixed_precision %s: %s on this machine", policy, resolved)
    return resolved


def precision_of(model) -> dict:
    """``{"policy", "loss_scaling"}`` of a compiled model: what a training session actually runs."""
    import keras

    optimizer = getattr(model, "optimizer", None)
    scaling = None
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        cap = f", cap {float(optimizer.max_scale):g}" if hasattr(optimizer, "max_scale") else ""
        scaling = (f"dynamic (initial {float(optimizer.initial_scale):g}, x2 after "
                   f"{int(optimizer.dynamic_growth_steps)} finite steps{cap}, /2 and skip on overflow)")
    return {"policy": model.dtype_policy.name, "loss_scaling": scaling}


def record_precision(ckpt_dir: Path, first_epoch: int, model) -> dict:
    """Append this session's precision to ``checkpoints/precision.json`` (one entry per start)."""
    path = ckpt_dir / PRECISION_FILE
    sessions = json.loads(path.read_text()) if path.is_file() else []
    entry = {"first_epoch": first_epoch + 1, **precision_of(model)}
    sessions.append(entry)
    atomic_write_text(path, json.dumps(sessions, indent=2))
    return entry


def precision_notes(run_dir: str | Path) -> list[str]:
    """One line per fold (and phase) of ``run_dir`` saying which precision its training ran,
    from the ``precision.json`` files :func:`fit_split` writes (empty when none exist)."""
    run_dir = Path(run_dir)
    notes = []
    for path in sorted(run_dir.glob(f"fold_*/**/checkpoints/{PRECISION_FILE}")):
        where = path.parent.parent.relative_to(run_dir).as_posix()
        sessions = json.loads(path.read_text())
        parts = [f"{s['policy']}" + (f" with {s['loss_scaling']} loss scaling" if s.get("loss_scaling") else "")
                 + (f" from epoch {s['first_epoch']}" if len(sessions) > 1 else "") for s in sessions]
        notes.append(f"precision of {where}: " + "; ".join(parts))
    return notes

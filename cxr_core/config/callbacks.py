"""The schemas of ``train.early_stopping``, ``train.reduce_lr`` and the monitored log names.

``train.early_stopping`` and ``train.reduce_lr`` are the keyword arguments of
``keras.callbacks.EarlyStopping`` and ``keras.callbacks.ReduceLROnPlateau`` (a mapping, or null for
no such callback; CVR-Net's authors use both [CVR-T]). :class:`EarlyStoppingKeywords` and
:class:`ReduceLROnPlateauKeywords` list the keywords Keras 3 accepts, with Keras' defaults and the
ranges Keras needs; the config checks a mapping against them when it is loaded
(:class:`~cxr_core.config.schema.Keywords`), so a typo such as ``train.early_stopping.monitr`` fails
before any image is read, naming the file (or ``--set``), the key and the allowed keys. The value
stays the mapping as written: keys left out take Keras' own defaults.

``monitor`` (and ``train.checkpoint_monitor``) is one of :data:`MONITORS`: the names Keras logs for
a model compiled by :func:`cxr_core.training.fit.compile_model` with the metrics every family trains
with (:data:`COMPILED_METRICS`): the loss and accuracy, on the training data and, prefixed
``val_``, on the validation data. The phases a family trains with other metrics set their own
monitor in code (CORONA-Net's reconstruction phase: ``val_loss``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cxr_core.config.schema import ConfigError, Fraction, NonNegFloat, NonNegInt

COMPILED_METRICS = ("accuracy",)
"""The metrics :func:`cxr_core.training.fit.fit_split` compiles a model with (its ``metrics`` default)."""

MONITORS = ("val_accuracy", "val_loss", "accuracy", "loss")
"""The per-epoch log names a callback may monitor: ``loss``, :data:`COMPILED_METRICS`, each also
with ``val_`` (logged only when the protocol has validation data)."""

Monitor = Literal["val_accuracy", "val_loss", "accuracy", "loss"]  # = MONITORS (tests check both)
Mode = Literal["auto", "min", "max"]


def monitor_mode(monitor: str) -> str:
    """``"min"`` for a loss, ``"max"`` otherwise: which way a monitored log improves (Keras' ``auto``)."""
    return "min" if "loss" in monitor else "max"


@dataclass(frozen=True)
class EarlyStoppingKeywords:
    """``keras.callbacks.EarlyStopping`` keywords (Keras 3 defaults). ``mode: auto`` takes ``max``
    for an accuracy and ``min`` for a loss."""

    monitor: Monitor = "val_loss"
    min_delta: NonNegFloat = 0.0
    patience: NonNegInt = 0
    verbose: Literal[0, 1] = 0
    mode: Mode = "auto"
    baseline: float | None = None
    restore_best_weights: bool = False
    start_from_epoch: NonNegInt = 0


@dataclass(frozen=True)
class ReduceLROnPlateauKeywords:
    """``keras.callbacks.ReduceLROnPlateau`` keywords (Keras 3 defaults; Keras would silently ignore
    an unknown keyword). The rate becomes ``max(rate * factor, min_lr)`` after ``patience`` epochs
    without improvement by ``min_delta``, then waits ``cooldown`` epochs."""

    monitor: Monitor = "val_loss"
    factor: Fraction = 0.1
    patience: NonNegInt = 10
    verbose: Literal[0, 1] = 0
    mode: Mode = "auto"
    min_delta: NonNegFloat = 1e-4
    cooldown: NonNegInt = 0
    min_lr: NonNegFloat = 0.0


def check_monitored_logs(train, validation: str, origin: str) -> None:
    """Refuse, at load, a callback watching a ``val_`` log that no epoch will have.

    ``train`` is the checked ``train`` section, ``validation`` the ``protocol.validation`` value:
    with ``none`` Keras logs no ``val_`` value, so ``train.checkpoint_monitor`` (with ``checkpoint:
    best``) and the ``monitor`` of an early stopping or learning-rate reduction (Keras' default
    ``val_loss`` when left out) must be ``loss`` or ``accuracy``. Raises :class:`ConfigError` naming
    ``origin``, the key and its value.
    """
    if validation != "none":
        return
    watched = [("train.checkpoint_monitor", train.checkpoint_monitor)] if train.checkpoint == "best" else []
    for section in ("early_stopping", "reduce_lr"):
        if getattr(train, section):  # an empty mapping adds no callback (cxr_core.training.fit.fit_split)
            watched.append((f"train.{section}.monitor", getattr(train, section).get("monitor", "val_loss")))
    for key, monitor in watched:
        if monitor.startswith("val_"):
            detail = (f"{key}: {monitor!r} is logged only with validation data, but protocol.validation is none; "
                      f"monitor one of {', '.join(m for m in MONITORS if not m.startswith('val_'))}")
            raise ConfigError(f"{origin}: {detail}", key=key, detail=detail)

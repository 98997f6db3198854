"""Fit one split: optimizer, loss, callbacks, checkpoints, resume, logs, precision and distribution.

:func:`fit_split` trains a model on one train/validation split as an experiment's ``train`` section
says, writing into one folder:

    checkpoints/resume.weights.h5   model and optimizer variables (Adam moments, iteration count)
                                    after the last finished epoch; deleted when the split finishes
    checkpoints/state.json          epochs done, callback state (EarlyStopping, ReduceLROnPlateau), lr
    checkpoints/best.weights.h5     best weights on ``checkpoint_monitor`` (``checkpoint: best``),
                                    model weights only
    checkpoints/last.weights.h5     the model after the last epoch (``checkpoint: last``), model
                                    weights only, written when the split finishes
    training_log.csv                one row per epoch (Keras CSVLogger; appended on resume)
    tensorboard/train, /validation  TensorBoard scalars per epoch (``train.tensorboard``, on by default)

A finished split keeps only its selected model's weights, no optimizer state
(:mod:`cxr_core.training.checkpoints`). Every file is written atomically. Started again on the same folder, :func:`fit_split` continues
after the last finished epoch with the optimizer and callback state restored; a split whose
training finished (all epochs, or stopped early) is not trained again.

Deviation: a resumed run continues with the same weights, optimizer and schedule state, but the
data order after the resume point is drawn from a seed derived from the epoch, so it matches an
uninterrupted run statistically, not bit for bit.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from cxr_core.config.callbacks import monitor_mode
from cxr_core.config.choices import LOSSES, STRATEGIES
from cxr_core.config.experiment import TrainConfig
from cxr_core.atomic_files import atomic_write_text, remove_stale_temporaries
from cxr_core.runs.progress import PROGRESS, progress_callback
from cxr_core.training.loss_scale import ApexLossScaleOptimizer
from cxr_core.training.precision import precision_of, record_precision
from cxr_core.training.callbacks import tensorboard_callback
from cxr_core.training.callbacks import epoch_logger, make_checkpointer, resumable
from cxr_core.training.checkpoints import read_state
from cxr_core.errors import CxrError
from cxr_core.training.optimizers import make_optimizer

logger = logging.getLogger(__name__)


def make_loss(name: str):
    """The Keras loss for ``train.loss``."""
    import keras

    if name == "categorical_crossentropy":
        return keras.losses.CategoricalCrossentropy()
    if name == "categorical_crossentropy_from_logits":
        return keras.losses.CategoricalCrossentropy(from_logits=True)
    if name == "mse":
        return keras.losses.MeanSquaredError()
    raise CxrError(f"train.loss: unknown loss {name!r}; known: {list(LOSSES)}")


def class_weights(spec: Any, labels: np.ndarray, class_names: tuple[str, ...]) -> dict[int, float] | None:
    """Class weights from ``train.class_weight``.

    ``round_max_over_count`` is CVR-Net's ``get_class_weights``: ``round(max_count / count, 2)`` on the
    training labels [CVR-T]; a mapping gives weights by class name; ``null`` means none.
    """
    if spec is None:
        return None
    if spec == "round_max_over_count":
        counts = np.bincount(labels, minlength=len(class_names))
        if (counts == 0).any():
            empty = [class_names[i] for i in np.flatnonzero(counts == 0)]
            raise CxrError(f"train.class_weight: class(es) {empty} have no training samples")
        return {i: round(float(counts.max() / c), 2) for i, c in enumerate(counts)}
    if isinstance(spec, Mapping):
        unknown = [k for k in spec if k not in class_names]
        if unknown:
            raise CxrError(f"train.class_weight: unknown class {unknown[0]!r}; classes: {list(class_names)}")
        return {i: float(spec.get(name, 1.0)) for i, name in enumerate(class_names)}
    raise CxrError(f"train.class_weight: expected null, 'round_max_over_count' or a mapping, found {spec!r}")


def make_strategy(name: str):
    """The tf.distribute strategy for ``train.strategy``.

    ``default`` (one device), ``mirrored`` (all local GPUs, or the logical devices configured),
    ``multi_worker`` (MultiWorkerMirroredStrategy; cluster from the ``TF_CONFIG`` environment variable).
    ``batch_size`` is the global batch: each of N replicas gets ``batch_size / N`` samples.
    """
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise CxrError("train.strategy: multi_worker needs the TF_CONFIG environment variable (cluster and task)")
        return _keras_multi_worker_strategy()
    raise CxrError(f"train.strategy: expected one of {STRATEGIES}, found {name!r}")


def _keras_multi_worker_strategy():
    """``MultiWorkerMirroredStrategy`` whose ``reduce`` Keras 3's trainer can call.

    Keras 3 (checked with 3.15) calls ``strategy.reduce("MEAN", batch, axis=None)`` on a nested
    ``(x, y)`` batch and ``strategy.reduce("MEAN", metric, axis=0)`` on scalar metrics; the collective
    strategy accepts neither (keras-team/keras#20585), so ``fit`` fails on its first step. This
    subclass reduces nested values one by one and scalars with ``axis=None``; nothing else changes.
    """
    import tensorflow as tf

    class KerasMultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        def reduce(self, reduce_op, value, axis=None):
            base = super().reduce

            def one(v):
                local = self.experimental_local_results(v)[0] if isinstance(v, tf.distribute.DistributedValues) else v
                rank = getattr(getattr(local, "shape", None), "rank", None)
                return base(reduce_op, v, axis=None if rank == 0 else axis)

            return tf.nest.map_structure(one, value)

    return KerasMultiWorkerMirroredStrategy()


def seed_everything(seed: int, deterministic: bool) -> None:
    """Python, NumPy and TensorFlow seeds; deterministic kernels when asked (same results on CPU)."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


@dataclass
class FitResult:
    """What training left: the log, the weights to evaluate, and how it ended."""

    log_path: Path
    weights_path: Path
    epochs_done: int
    stopped_early: bool
    resumed_from: int
    precision: dict | None = None
    """``{"policy", "loss_scaling"}`` of the last training session (:func:`precision_of`); None
    when the split had finished before (see ``checkpoints/precision.json``)."""


def compile_model(model, train: TrainConfig, *, learning_rate: Any = None, metrics=("accuracy",)):
    """Compile ``model`` with the configured optimizer, loss and XLA switch; under a ``mixed_float16``
    policy the optimizer gets apex-like dynamic loss scaling (:class:`ApexLossScaleOptimizer`: 2**16 to 2**24,
    a schedule counting skipped steps)."""
    lr = train.optimizer.learning_rate if learning_rate is None else learning_rate
    optimizer = make_optimizer(train.optimizer.name, lr, train.optimizer.options)
    if model.dtype_policy.name == "mixed_float16":
        # Keras would add its own (initial scale 2**15); this one starts where apex AMP does.
        optimizer = ApexLossScaleOptimizer(optimizer)
    if train.jit_compile and train.deterministic:
        logger.warning("train.jit_compile is true but train.deterministic is true as well: Keras compiles without XLA "
                    "while TensorFlow op determinism is on; set --set train.deterministic=false to use XLA")
    model.compile(
        optimizer=optimizer,
        loss=make_loss(train.loss),
        metrics=list(metrics),
        jit_compile=bool(train.jit_compile),
    )
    return model


def fit_split(
    build_model: Callable[[], Any],
    make_train_data: Callable[[int], Any],
    make_val_data: Callable[[int], Any] | None,
    out_dir: str | Path,
    train: TrainConfig,
    *,
    class_weight: Mapping[int, float] | None = None,
    steps_per_epoch: int | None = None,
    validation_steps: int | None = None,
    strategy=None,
    learning_rate: Any = None,
    metrics=("accuracy",),
    device_augmentation: Any = None,
    input_scaling: str | None = None,
) -> FitResult:
    """Train one split as ``train`` says, resuming from ``out_dir`` where a previous run stopped.

    Args:
        build_model: returns a fresh, uncompiled model (called inside the strategy's scope). Inside a
            :func:`cxr_core.training.model_reuse.reusing_models` session (the protocol's folds) the model trained
            may be a compiled one of an earlier fold, given this model's values (no retracing).
        make_train_data / make_val_data: ``f(first_epoch) -> tf.data.Dataset`` of ``(x, y)``; the
            first epoch seeds the data order so a resumed run does not replay epoch 0's order.
        out_dir: the split's folder (checkpoints/, training_log.csv).
        train: the experiment's train section.
        class_weight: per class index, or None.
        learning_rate: a value or a Keras schedule replacing ``train.optimizer.learning_rate``.
        device_augmentation: a :class:`cxr_core.data.augment.device.DeviceAugmentation` when the
            training data are raw batches (``augment.placement: device``,
            :func:`cxr_core.data.pipeline.device_augmentation`): the model then augments and scales
            them inside its training step. Weight files are those of the plain model.
        input_scaling: the preset's ``preprocess.scaling``; the first training batch's values are
            checked against it and a WARNING names both ranges when they do not fit
            (:mod:`cxr_core.data.decode.input_range`). None: no check.

    Returns:
        :class:`FitResult`; ``weights_path`` is ``best.weights.h5`` with ``checkpoint: best`` (the
        authors' ModelCheckpoint(save_best_only) of CVR-Net [CVR-T]) and ``last.weights.h5``
        otherwise (CoroNet saves the final-epoch model [CN]).
    """
    import keras

    out_dir = Path(out_dir)
    ckpt_dir = out_dir / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    for stale in remove_stale_temporaries(out_dir):  # a checkpoint write cut short by a kill
        logger.info("%s: removed %s, a temporary file of an interrupted write", out_dir, stale.name)
    log_path = out_dir / "training_log.csv"
    strategy = strategy or make_strategy("default")
    if train.checkpoint not in ("last", "best"):
        raise CxrError(f"train.checkpoint: expected 'last' or 'best', found {train.checkpoint!r}")

    state = read_state(ckpt_dir)
    start_epoch = int(state["epochs_done"]) if state else 0
    from cxr_core.training.checkpoints import finish_split, restore_resume_checkpoint, resume_checkpoint, truncate_log

    if state and (state.get("stopped_early") or start_epoch >= train.epochs):
        logger.info("%s: trained earlier (%d epochs), not trained again", out_dir, start_epoch)
        selected = finish_split(ckpt_dir, train.checkpoint, build_model=build_model)  # if stopped while finishing
        return FitResult(log_path, selected, start_epoch, bool(state.get("stopped_early")), start_epoch)

    train_data = make_train_data(start_epoch)
    from cxr_core.data.augment.device import check_train_data, with_device_augmentation

    check_train_data(train_data.element_spec, device_augmentation)
    if device_augmentation is None and input_scaling is not None:
        from cxr_core.data.decode.input_range import with_range_check

        train_data = with_range_check(train_data, input_scaling, where=f"{out_dir}: training data")
    with strategy.scope():
        model = build_model()
        # Keras 3 updates BatchNorm's moving variance with the biased batch variance; the authors' Keras 2 /
        # PyTorch used the unbiased one (train.bn_moving_variance, cxr_core.training.batchnorm).
        from cxr_core.training.batchnorm import set_bn_moving_variance

        set_bn_moving_variance(model, train.bn_moving_variance)
        from cxr_core.training.trainable import set_trainable

        set_trainable(model, train.trainable)
        def compile_fn(m):
            return compile_model(m, train, learning_rate=learning_rate, metrics=metrics)

        if device_augmentation is not None:
            model = compile_fn(with_device_augmentation(model, device_augmentation))
        else:  # a compiled model of an earlier fold, reset to this fresh one's values (cxr_core.training.model_reuse)
            from cxr_core.training.model_reuse import compile_key_of, compiled_model

            key = compile_key_of(train, learning_rate, metrics, strategy, model.dtype_policy.name)
            model = compiled_model(model, compile_fn, key)
        record_precision(ckpt_dir, start_epoch, model)
        if state:
            restore_resume_checkpoint(model, resume_checkpoint(ckpt_dir))
            iterations = state.get("optimizer_iterations")
            if iterations and int(model.optimizer.iterations.numpy()) == 0:
                # More epochs for a finished split: it kept its weights only (no Adam moments), so the
                # optimizer restarts, but a learning-rate schedule continues at the step it had reached.
                model.optimizer.iterations.assign(iterations)
                logger.warning("%s: continuing a finished split with more epochs; its optimizer state was not "
                               "kept (only the selected weights), so the optimizer's moments start again "
                               "(step count restored: %d)", ckpt_dir, iterations)
            rate = train.optimizer.learning_rate if learning_rate is None else learning_rate
            if state.get("learning_rate") is not None and not isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
                # A plain rate may have been lowered by ReduceLROnPlateau; a schedule follows the restored step.
                model.optimizer.learning_rate.assign(state["learning_rate"])

    restored = (state or {}).get("callbacks", {})
    callbacks: list = []
    state_callbacks: dict = {}
    needs_val = make_val_data is not None
    if train.early_stopping:
        cb = resumable(keras.callbacks.EarlyStopping)(**dict(train.early_stopping))
        cb.restore = restored.get("early_stopping")
        state_callbacks["early_stopping"] = cb
        callbacks.append(cb)
    if train.reduce_lr:
        cb = resumable(keras.callbacks.ReduceLROnPlateau)(**dict(train.reduce_lr))
        cb.restore = restored.get("reduce_lr")
        state_callbacks["reduce_lr"] = cb
        callbacks.append(cb)
    monitor = train.checkpoint_monitor
    if (train.early_stopping or train.reduce_lr or train.checkpoint == "best") and not needs_val:
        if any(str(m).startswith("val_") for m in (monitor, *(c.monitor for c in state_callbacks.values()))):
            raise CxrError("train: callbacks monitor a validation metric but the protocol has no validation data")
    mode = None
    if train.checkpoint == "best":
        mode = monitor_mode(monitor)
    checkpointer = make_checkpointer(ckpt_dir, monitor, mode, state_callbacks)((state or {}).get("best"))
    if start_epoch > 0 and log_path.is_file():
        truncate_log(log_path, start_epoch)
    callbacks.append(keras.callbacks.CSVLogger(str(log_path), append=start_epoch > 0))
    if getattr(train, "tensorboard", False):
        board = tensorboard_callback(out_dir)
        if board is not None:
            callbacks.append(board)
    callbacks.append(checkpointer)
    callbacks.append(progress_callback())  # after the checkpoint: Ctrl-C reports the last saved epoch
    PROGRESS.training_started(out_dir, start_epoch, train.epochs)
    if train.verbose == 2:  # one line per epoch through logging (--quiet hides it), a bar within it on a terminal
        callbacks.append(epoch_logger(train.epochs, steps=steps_per_epoch, label=PROGRESS.phase))
    if start_epoch:
        where = "" if PROGRESS.fold is None else f"fold {PROGRESS.fold}" + (f" ({PROGRESS.phase})" if PROGRESS.phase else "")
        logger.info("resuming %s at epoch %d of %d (%s)", where or out_dir, start_epoch + 1, train.epochs,
                    f"epochs 1-{start_epoch} were trained earlier" if start_epoch > 1 else "epoch 1 was trained earlier")

    history = model.fit(
        train_data,
        validation_data=make_val_data(start_epoch) if needs_val else None,
        epochs=train.epochs,
        initial_epoch=start_epoch,
        steps_per_epoch=steps_per_epoch,
        validation_steps=validation_steps,
        class_weight=dict(class_weight) if class_weight else None,
        callbacks=callbacks,
        shuffle=False,  # the tf.data pipeline shuffles, seeded
        verbose=0 if train.verbose == 2 else train.verbose,
    )
    epochs_done = start_epoch + len(history.history.get("loss", []))
    stopped = epochs_done < train.epochs
    final = read_state(ckpt_dir) or {}
    final.update(epochs_done=epochs_done, stopped_early=stopped)
    atomic_write_text(ckpt_dir / "state.json", json.dumps(final, indent=2))
    precision = precision_of(model)
    if train.checkpoint == "best" and not (ckpt_dir / "best.weights.h5").exists():
        raise CxrError(f"{ckpt_dir}: checkpoint 'best' monitors {monitor!r}, which never appeared in the logs")
    # the selected weights alone (no optimizer state); the resume checkpoint goes
    selected = finish_split(ckpt_dir, train.checkpoint, model=model)
    return FitResult(log_path, selected, epochs_done, stopped, start_epoch, precision)

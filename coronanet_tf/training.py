"""CORONA-Net's two training phases: re-initialisation (reconstruction), then classification.

Published idea [S0, PG]: (1) the encoder and a decoder are trained to reconstruct the X-ray, so the
encoder starts from "a distribution that comes out of medical images"; (2) the decoder is removed
and the network is trained as a classifier. The details come from the authors' script [CR]
(docs/PAPERS.md §3.4), run twice: ``--mdel-ae True`` (phase 1) and then the default (phase 2), which
loads phase 1's ``state_dict`` (not its optimizer) and starts its schedule again from epoch 0.

:func:`fit_phases` is ``FAMILY.training.fit`` (called by :func:`cxr_core.protocol.run.fit_fold`, which hands it
the factory of the config's model, :class:`cxr_core.family.ModelFactory`) and writes::

    OUT/phase1/      checkpoints/, training_log.csv (loss = MSE), model.weights.h5 (full model with
                     the decoder: the phase-1 weights phase 2 starts from), curves.png (the
                     reconstruction loss) and reconstruction.png (inputs beside their reconstructions,
                     :mod:`coronanet_tf.phase1_figures`)
    OUT/phase2/      checkpoints/, training_log.csv (loss, accuracy, val_*)
                     model.weights.h5 (the config's model: what the protocol evaluates)

Disk: a finished phase keeps its ``model.weights.h5`` only (weights, no optimizer state): the
selected checkpoint it was made from is deleted once exported, and the resume checkpoint with the
optimizer state goes when the phase finishes (:mod:`cxr_core.training.checkpoints`). A finished fold holds
two CORONA-Net models: phase 1's (with the decoder) and phase 2's (the selected classifier).

Each phase goes through :func:`cxr_core.training.fit.fit_split`, so each resumes from its last finished
epoch and a finished phase 1 is never trained again. The two phases train different graphs (outputs,
loss, trainable layers), so with ``train.reuse_model_across_folds`` each phase keeps its own compiled
model from fold to fold (:mod:`cxr_core.training.model_reuse`); a fold whose schedule differs (another number
of steps per epoch) compiles anew.

Phase 1: the model with the decoder, trained end to end on ``MSE(reconstruction, x)``, ``x`` the
ImageNet-normalised input (``criterion(outputs, input)`` [CR]); the logits get no loss of their
own, but the decoder reads them, so the gradient reaches the MLP and the encoder through them. The
decoder ends in tanh (values in [-1, 1]) while the target spans about [-2.1, 2.6]: the authors'
mismatch is kept (docs/PAPERS.md §3.2). Phase-1 weights: ``last`` epoch by default (see
:class:`coronanet_tf.settings.ReinitSettings`). Class weights do not apply to a reconstruction.

Phase 2: ``train.loss`` on the logits (torch ``CrossEntropyLoss`` = softmax cross-entropy from
logits [CR]), from phase 1's weights (layers matched by name), ``train.checkpoint`` selection
(``best`` on ``val_accuracy``; with ``protocol.validation: test_fold`` the validation data is the
test set, [CR]'s ``validate(test_loader)`` → ``model_best``). Decoder: ``model.options.with_decoder``
``false`` removes it (paper); ``true`` keeps it in the model and its phase-1 weights in the saved
file, but trains a logits-only view of the same layers.

Deviation (decoder kept): [CR] still computes the decoder in phase 2. Its output has no loss, so its
weights get no gradient and torch's Adam skips them (unchanged, as here); only its BatchNorm running
statistics keep moving in [CR], which changes nothing the classifier outputs. Not computing it saves
time and memory.

Both phases: ``train.optimizer`` (``adam_l2``: torch ``Adam(weight_decay=1e-4)``, coupled L2 [CR])
with :class:`coronanet_tf.schedule.CoronaNetSchedule` as its learning rate (``lr * batch *
world_size / 256``, 5-epoch linear warm-up, x0.1 every 30 epochs and once more from epoch 80, per
iteration), unless ``extra.coronanet.lr_schedule`` is null (constant ``train.optimizer.learning_rate``).
Mixed precision (``train.mixed_precision``; [CR] used apex AMP O2) comes from the global Keras policy;
both outputs stay float32.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from coronanet_tf.settings import CoronaNetSettings, CoronaNetSettingsError, settings_from_config
from cxr_core.weights.transfer import copy_weights
from cxr_core.errors import CxrError

if TYPE_CHECKING:
    from cxr_core.family import ModelFactory

PHASE1_DIR = "phase1"
PHASE2_DIR = "phase2"
EXPORT_NAME = "model.weights.h5"

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------------- helpers
def reconstruction_view(model):
    """A Keras model sharing ``model``'s layers whose only output is the decoder's reconstruction."""
    import keras

    try:
        recon = model.get_layer("reconstruction").output
    except ValueError:
        raise ValueError(f"model {model.name!r} has no 'reconstruction' layer: phase 1 needs with_decoder=True") from None
    return keras.Model(model.inputs, recon, name=f"{model.name}_reinit")


def logits_view(model):
    """``model`` itself when it outputs the logits alone, else a model sharing its layers that does."""
    import keras

    if not isinstance(model.outputs, (list, tuple)) or len(model.outputs) == 1:
        return model
    return keras.Model(model.inputs, model.get_layer("logits").output, name=f"{model.name}_classify")


def steps_per_epoch_of(dataset, configured: int | None, steps_mode: str = "full_pass") -> int:
    """Iterations per epoch: ``train.steps_per_epoch`` or the batches of one pass over the data
    (``len(train_loader)`` of [CR], ``drop_last=False``).

    Raises:
        CoronaNetSettingsError: ``train.steps_mode`` is not ``full_pass``: the authors' PyTorch
            ``DataLoader`` makes one full pass per epoch [CR]; Keras 2's ``n // batch`` steps
            (``keras2_floor_wraparound``, ``tf_keras_floor_restart``) are not a CORONA-Net choice, and
            its two phases (phase 1 with its own epochs) do not follow one Keras-2 stream.
    """
    import tensorflow as tf

    if steps_mode != "full_pass":
        raise CoronaNetSettingsError(
            f"train.steps_mode: CORONA-Net trains with full passes over the data (PyTorch DataLoader, "
            f"drop_last=False [CR]); found {steps_mode!r}. Use --set train.steps_mode=full_pass")
    if configured:
        return int(configured)
    n = int(tf.data.experimental.cardinality(dataset).numpy())
    if n == tf.data.experimental.INFINITE_CARDINALITY:
        raise CxrError("train.steps_per_epoch is needed: the training dataset repeats forever")
    if n < 0:  # unknown: count the batches once
        n = sum(1 for _ in dataset)
    if n < 1:
        raise CxrError("the training dataset is empty")
    return n


def learning_rate_for(cfg, settings: CoronaNetSettings, steps_per_epoch: int):
    """The authors' schedule for one phase (restarting at step 0), or the constant rate."""
    from coronanet_tf.schedule import CoronaNetSchedule

    base = float(cfg.train.optimizer.learning_rate)
    if settings.lr_schedule is None:
        return base
    s = settings.lr_schedule
    return CoronaNetSchedule(
        base_lr=base, batch_size=int(cfg.train.batch_size), steps_per_epoch=steps_per_epoch,
        world_size=s.world_size, warmup_epochs=s.warmup_epochs, step_epochs=s.step_epochs,
        extra_drop_epoch=s.extra_drop_epoch, gamma=s.gamma, reference_batch=s.reference_batch,
    )


def _num_classes(dataset) -> int:
    spec = dataset.element_spec
    return int(spec[1].shape[-1])


def check_param_counts(model, settings: CoronaNetSettings, *, with_decoder: bool, where: str) -> None:
    """Compare ``model``'s total, trainable and non-trainable parameter counts with
    ``extra.coronanet.expected_params`` (3 classes only; docs/PAPERS.md §3.1). Raises ``ValueError``."""
    from cxr_core.config.param_counts import compare_param_counts

    if int(model.get_layer("logits").output.shape[-1]) != 3:
        return
    name = "with_decoder" if with_decoder else "classification"
    compare_param_counts(model, getattr(settings.expected_params, name),
                         key=f"extra.coronanet.expected_params.{name}", context=f"({where})")


def _phase1_builder(build_full: Callable[[], Any], settings: CoronaNetSettings) -> Callable[[], Any]:
    """Phase 1's reconstruction view of ``build_full()`` (the config's model with its decoder)."""

    def build():
        full = build_full()
        if not settings.reinit.train_classifier:
            for layer in full.layers:
                if layer.name.startswith("classifier_"):
                    layer.trainable = False
        else:
            check_param_counts(full, settings, with_decoder=True, where="phase 1 model")
        return reconstruction_view(full)

    return build


# ----------------------------------------------------------------------------------- the two phases
def fit_reinit(cfg, settings: CoronaNetSettings, make_train_data, make_val_data, out_dir: Path, *,
               num_classes: int, build_full: Callable[[], Any], build_bare_full: Callable[[], Any], strategy=None):
    """Phase 1 into ``out_dir``; returns (FitResult, path of the full model's weights with decoder).

    ``build_full``: builds the config's model with its decoder and initial weights (ImageNet backbone,
    ``model.init_from``); ``build_bare_full``: the same without initial weights (a container to load
    phase-1 weights into). Both come from the protocol's factory (:func:`fit_phases`).
    """
    from cxr_core.atomic_files import atomic_path
    from cxr_core.training.fit import fit_split

    if num_classes != 3:
        raise CoronaNetSettingsError(
            f"extra.coronanet.phases includes reinit, but Decoder224 needs 3 classes (view(-1, 1, 1, 3) [CR]); "
            f"the data has {num_classes}. Use phases: [classify] for other class counts")
    size = tuple(cfg.preprocess.image_size)
    if size != (224, 224):
        raise CxrError(f"phase 1 compares the 224x224 reconstruction with the input, so preprocess.image_size "
                         f"must be [224, 224]; found {list(size)}")
    r = settings.reinit
    epochs = r.epochs or cfg.train.epochs
    train1 = dataclasses.replace(
        cfg.train, loss="mse", epochs=epochs, checkpoint=r.checkpoint, checkpoint_monitor="val_loss",
        early_stopping=None, reduce_lr=None, class_weight=None,
    )
    if r.checkpoint == "best" and make_val_data is None:
        raise CoronaNetSettingsError("extra.coronanet.reinit.checkpoint: best needs validation data "
                                     "(protocol.validation is none)")

    def to_reconstruction(ds):
        return ds.map(lambda x, y: (x, x))

    def train_data(first_epoch: int):
        return to_reconstruction(make_train_data(first_epoch))

    def val_data(first_epoch: int):
        return to_reconstruction(make_val_data(first_epoch))

    validate = make_val_data is not None and r.checkpoint == "best"

    steps = steps_per_epoch_of(make_train_data(0), cfg.train.steps_per_epoch, cfg.train.steps_mode)
    build = _phase1_builder(build_full, settings)
    result = fit_split(
        build, train_data, val_data if validate else None, out_dir, train1,
        steps_per_epoch=cfg.train.steps_per_epoch, validation_steps=cfg.train.validation_steps,
        strategy=strategy, learning_rate=learning_rate_for(cfg, settings, steps), metrics=(),
    )
    export = out_dir / EXPORT_NAME
    selected = Path(result.weights_path)
    if export.is_file() and (not selected.is_file() or export.stat().st_mtime >= selected.stat().st_mtime):
        return result, export  # finished earlier and exported
    full = build_bare_full()
    view = reconstruction_view(full)
    view.load_weights(selected)
    with atomic_path(export) as tmp:
        full.save_weights(tmp)
    selected.unlink()  # the same weights as the export: a finished phase keeps one file (cxr_core.training.checkpoints)
    _phase1_figures(out_dir, result.log_path, view, make_val_data if validate else make_train_data)
    return result, export


def _phase1_figures(out_dir: Path, log_path: Path, view, make_data) -> None:
    """Phase 1's loss curve and input-versus-reconstruction panel (:mod:`coronanet_tf.phase1_figures`)."""
    from coronanet_tf.phase1_figures import PANEL_IMAGES, write_phase1_figures

    for x, _ in make_data(0).take(1):
        batch = x.numpy()[:PANEL_IMAGES]
        write_phase1_figures(out_dir, log_path, lambda v: view(v, training=False).numpy(), batch)


def fit_phases(cfg, build: ModelFactory, make_train_data: Callable[[int], Any],
               make_val_data: Callable[[int], Any] | None, out_dir, *,
               class_weight: Mapping[int, float] | None = None, strategy=None):
    """Train CORONA-Net's two phases for one split (``FAMILY.training.fit``); see the module docstring.

    Args:
        cfg: the experiment config (``extra.coronanet`` read by :mod:`coronanet_tf.settings`).
        build: the protocol's factory of the config's model (:class:`cxr_core.family.ModelFactory`):
            ``build()`` the config's model (``model.options.with_decoder``) with its initial weights,
            ``build(bare=True)`` without them (every weight about to be loaded from a file: no ImageNet
            file read), ``build(options={"with_decoder": True})`` phase 1's model with its decoder.
        make_train_data / make_val_data: ``f(first_epoch) -> tf.data.Dataset`` of ``(x, one-hot y)``.
        out_dir: the fold's folder; phases go to ``phase1/`` and ``phase2/``.
        class_weight: phase 2 only.
        strategy: tf.distribute strategy (default: the current one).

    The protocol (:func:`cxr_core.protocol.run.fit_fold`) passes the factory, so this module never
    imports the orchestrator.

    Returns:
        phase 2's :class:`cxr_core.training.fit.FitResult` with ``weights_path`` =
        ``phase2/model.weights.h5``, which loads into ``build(bare=True)``.
    """
    from cxr_core.data.pipeline import device_augmentation
    from cxr_core.protocol.experiment_data import pipeline_spec
    from cxr_core.atomic_files import atomic_path
    from cxr_core.training.fit import fit_split

    settings = settings_from_config(cfg)
    out_dir = Path(out_dir)
    num_classes = _num_classes(make_train_data(0))
    with_decoder = bool(dict(cfg.model.options).get("with_decoder", True))

    with_decoder_options = {"with_decoder": True}  # phase 1's model: the config's with its decoder [CR]
    phase1_weights = None
    total = len(settings.phases)
    if "reinit" in settings.phases:
        log.info("phase 1 of %d: re-initialisation, the autoencoder trained to reconstruct its input (MSE) [CR]", total)
        _, phase1_weights = fit_reinit(
            cfg, settings, make_train_data, make_val_data, out_dir / PHASE1_DIR, num_classes=num_classes,
            build_full=lambda: build(options=with_decoder_options),
            build_bare_full=lambda: build(options=with_decoder_options, bare=True), strategy=strategy)

    def load_phase1(model) -> None:
        if with_decoder:  # same architecture as phase 1's model
            model.load_weights(phase1_weights)
        else:
            donor = build(options=with_decoder_options, bare=True)
            donor.load_weights(phase1_weights)
            copy_weights(model, donor, allow=("not_in_target",))  # the donor's decoder has no place here

    # Models whose weights all come from a file are built bare: no ImageNet VGG file read to be overwritten.
    def build_phase2():
        model = build(bare=True) if phase1_weights is not None else build()
        check_param_counts(model, settings, with_decoder=with_decoder, where="phase 2 model (config's model)")
        if phase1_weights is not None:
            load_phase1(model)
        return logits_view(model)

    steps = steps_per_epoch_of(make_train_data(0), cfg.train.steps_per_epoch, cfg.train.steps_mode)
    phase2_dir = out_dir / PHASE2_DIR
    log.info("phase %d of %d: classification%s", total, total,
             ", from phase 1's weights" if phase1_weights is not None else "")
    result = fit_split(
        build_phase2, make_train_data, make_val_data, phase2_dir, cfg.train,
        class_weight=class_weight, steps_per_epoch=cfg.train.steps_per_epoch,
        validation_steps=cfg.train.validation_steps, strategy=strategy,
        learning_rate=learning_rate_for(cfg, settings, steps), input_scaling=cfg.preprocess.scaling,
        device_augmentation=device_augmentation(pipeline_spec(cfg)),
    )
    export = phase2_dir / EXPORT_NAME
    selected = Path(result.weights_path)
    if export.is_file() and not selected.is_file():
        return dataclasses.replace(result, weights_path=export)  # finished and exported earlier
    # the selected phase-2 weights saved as the config's model (with the decoder's phase-1 weights
    # when it is kept), so that the protocol's build(bare=True).load_weights(...) works
    model = build(bare=True)
    if phase1_weights is not None and with_decoder:
        model.load_weights(phase1_weights)
    logits_view(model).load_weights(selected)
    with atomic_path(export) as tmp:
        model.save_weights(tmp)
    selected.unlink()  # the same weights as the export: a finished phase keeps one file
    return dataclasses.replace(result, weights_path=export)

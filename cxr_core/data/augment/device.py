"""Augmentation on the accelerator (``augment.placement: device``).

With ``placement: host`` (the default) :func:`cxr_core.data.pipeline.build_dataset` augments and
scales every batch in ``tf.data`` on the CPU. With ``placement: device`` the CPU does only the cheap
part: it decodes (once, with ``preprocess.cache``), batches the uint8 images and draws each image's
transform parameters from the same per-batch stateless seed as the host path
(:func:`cxr_core.data.augment.keras2.sample_transform_params`: a few numbers per image); the batch goes to the
training step as a *raw batch*::

    {"images": uint8 [B, h, w, 3], "augment_params": float32 [B, 9]}

and the model returned by :func:`with_device_augmentation` applies the transform
(:func:`cxr_core.data.augment.keras2.apply_transform`, the same ops, batched) and then the scaling, inside
the training (and validation) step, i.e. on the accelerator, compiled with the rest of the step
under XLA. Scaling comes after augmentation, as on the host path (Keras applies ``random_transform``
before ``standardize`` [CN]).

The resampling uses :func:`cxr_core.data.augment.resample.projective_transform_bilinear` (gathers) instead
of the ``ImageProjectiveTransformV3`` kernel, which XLA cannot compile; the two agree to float32
round-off, so both placements give the same batches for the same seed (tests/cxr_core/
test_device_augment.py). Parameters travel per image, so a ``tf.distribute`` strategy that splits
the batch over replicas splits them with their images.

The wrapped model shares every layer (and layer name) with the model it wraps: weights saved from it
load into the plain model and back. Batches that are not raw (validation without augmentation,
prediction) pass through unchanged. Not supported: a raw batch as the *target* (a reconstruction loss
on the augmented input, CORONA-Net's phase 1 with augmentation): :func:`check_train_data` says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping

import tensorflow as tf

from cxr_core.data.augment.keras2 import Keras2AugmentSpec, apply_transform
from cxr_core.config.choices import SCALINGS
from cxr_core.data.decode.images import scale_pixels
from cxr_core.errors import CxrError

RAW_IMAGES = "images"
RAW_PARAMS = "augment_params"
PARAM_KEYS = ("theta", "tx", "ty", "shear", "zx", "zy", "flip_horizontal", "flip_vertical",
              "channel_shift_intensity")


def pack_params(params: Mapping[str, Any]) -> tf.Tensor:
    """Per-image parameters of :func:`sample_transform_params` (``[B]`` each) -> float32 ``[B, 9]``.

    Flips become 0/1; a missing channel shift (None) becomes 0. The sampled values are float32
    already, so packing loses nothing.
    """
    ref = tf.convert_to_tensor(params["theta"])
    cols = []
    for key in PARAM_KEYS:
        v = params.get(key)
        v = tf.zeros_like(ref, tf.float32) if v is None else tf.cast(v, tf.float32)
        cols.append(tf.broadcast_to(v, tf.shape(ref)))
    return tf.stack(cols, axis=-1)


def unpack_params(packed: tf.Tensor, spec: Keras2AugmentSpec) -> dict[str, tf.Tensor | None]:
    """Inverse of :func:`pack_params`: the dictionary :func:`apply_transform` takes."""
    params: dict[str, tf.Tensor | None] = {k: packed[:, i] for i, k in enumerate(PARAM_KEYS)}
    params["flip_horizontal"] = params["flip_horizontal"] > 0.5
    params["flip_vertical"] = params["flip_vertical"] > 0.5
    if not spec.channel_shift_range:
        params["channel_shift_intensity"] = None  # no channel shift at all, as Keras
    return params


def is_raw_batch(x: Any) -> bool:
    """True for a raw batch (uint8 images + transform parameters) still to be augmented."""
    return isinstance(x, Mapping) and RAW_PARAMS in x and RAW_IMAGES in x


@dataclass(frozen=True)
class DeviceAugmentation:
    """Turns a raw batch into model inputs: augment (Keras 2 equivalent), then scale.

    ``spec``: the augmentation (its ``fill_mode``, ``cval`` and whether a channel shift is drawn);
    ``scaling``: one of :data:`cxr_core.config.choices.SCALINGS`.
    """

    spec: Keras2AugmentSpec
    scaling: str

    def __post_init__(self) -> None:
        if not isinstance(self.spec, Keras2AugmentSpec):
            raise ValueError(f"DeviceAugmentation.spec must be a Keras2AugmentSpec; got {type(self.spec).__name__}")
        if self.scaling not in SCALINGS:
            raise ValueError(f"DeviceAugmentation.scaling must be one of {SCALINGS}; got {self.scaling!r}")

    def __call__(self, raw: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """float32 ``[B, h, w, 3]`` model inputs from a raw batch."""
        images = tf.cast(raw[RAW_IMAGES], tf.float32)
        params = unpack_params(tf.cast(raw[RAW_PARAMS], tf.float32), self.spec)
        x = apply_transform(images, params, self.spec, resampler="gather")
        return scale_pixels(x, self.scaling)


def check_train_data(element_spec: Any, augmentation: DeviceAugmentation | None, *, where: str = "training data") -> None:
    """Raise ``ValueError`` when a dataset's batches and the device augmentation do not fit together.

    ``element_spec`` is ``dataset.element_spec`` (``(x, y)`` or ``(x, y, ...)``).
    """
    parts = tuple(element_spec) if isinstance(element_spec, (tuple, list)) else (element_spec,)
    x = parts[0]
    y = parts[1] if len(parts) > 1 else None
    if is_raw_batch(y):
        raise CxrError(
            f"{where}: the target is a raw (not yet augmented) batch, i.e. a reconstruction of the augmented "
            "input; augment.placement: device does not support that: use --set augment.placement=host")
    if is_raw_batch(x) and augmentation is None:
        raise CxrError(
            f"{where}: the batches are raw uint8 images for augment.placement: device, but the model was not "
            "given the device augmentation (pass device_augmentation= to cxr_core.training.fit.fit_split)")


@lru_cache(maxsize=None)
def _model_class():
    import keras

    class DeviceAugmentedModel(keras.Model):
        """A functional model that augments and scales raw batches before its first layer."""

        def __init__(self, *args, augmentation: DeviceAugmentation, **kwargs):
            super().__init__(*args, **kwargs)
            self._device_augmentation = augmentation

        def __call__(self, inputs, *args, **kwargs):
            if is_raw_batch(inputs):
                inputs = self._device_augmentation(inputs)
            return super().__call__(inputs, *args, **kwargs)

    return DeviceAugmentedModel


def with_device_augmentation(model, augmentation: DeviceAugmentation):
    """``model`` (a built functional Keras model, not compiled) taking raw batches too.

    The result shares ``model``'s layers, inputs and outputs (so its weight files are the plain
    model's) and applies ``augmentation`` to any raw batch it is called on, in training and in
    validation; other inputs go through unchanged.
    """
    if not isinstance(augmentation, DeviceAugmentation):
        raise ValueError(f"with_device_augmentation: expected a DeviceAugmentation, got {type(augmentation).__name__}")
    inputs = getattr(model, "inputs", None)
    if not inputs:
        raise CxrError(f"with_device_augmentation: model {getattr(model, 'name', model)!r} is not a built functional "
                         "model (it has no symbolic inputs); augment.placement: device needs one")
    def single(tensors):
        return tensors[0] if len(tensors) == 1 else tensors

    return _model_class()(inputs=single(model.inputs), outputs=single(model.outputs), name=model.name,
                          augmentation=augmentation)

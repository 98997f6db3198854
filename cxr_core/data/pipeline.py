"""One function from a sample table and a preprocessing spec to a ``tf.data.Dataset``.

Order of operations (each a ``tf.data`` stage)::

    indices --shuffle (when not cached)--> read + decode + resize (parallel map, deterministic order)
      --cache (optional: memory or file; uint8 resized images)--> shuffle (when cached) --> repeat
      --> batch --> augment the batch (Keras-2 ImageDataGenerator equivalent, 0..255 floats, per-image
      parameters) + scale + one-hot --> prefetch

- The cache sits after the resize and BEFORE augmentation and scaling, so each epoch is augmented
  afresh from the cached resized images (Keras applies ``random_transform`` before ``standardize``,
  so augmentation, channel shift included, works on the 0..255 scale [CN]).
- Shuffling is seeded and reshuffles each epoch (``reshuffle_each_iteration=True``): CoroNet's paper
  shuffles "before each epoch" [S4]. Without a cache the file list is shuffled before decoding (no big
  image buffer); with a cache, the cached images are shuffled with a buffer of the whole data set.
  Both give the same order for the same seed (shuffling ``n`` items with the same seed and buffer).
  ``shuffle=False`` keeps table order.
- Augmentation seeds come from ``tf.data.Dataset.random(seed, rerandomize_each_iteration=True)``, one
  per batch, with independent per-image parameters drawn from it statelessly: two datasets built with
  the same seed give identical batches, epoch after epoch, yet epochs differ from one another.
- Augmentation runs on whole batches (one ``ImageProjectiveTransformV3`` call per batch), which is
  much faster than a per-image map.
- ``augment_placement="device"`` (``augment.placement: device``) stops after drawing each image's
  transform parameters: the uint8 batch and its parameters go to the training step, which augments
  and scales on the accelerator (:mod:`cxr_core.data.augment.device`; same seeds, same batches).
- Gray images (most chest X-rays, whatever their file's colour mode) are decoded, resized, augmented
  and scaled as one channel and replicated to three at the end; every step treats channels alike, so
  the values are identical to the three-channel computation, for about a third of the work. A batch
  holding any colour image takes the three-channel path. (Measured speeds: benchmarks/RESULTS.md.)
- ``fast_jpeg_decode`` (opt-in) decodes large JPEGs at reduced DCT scale (see
  :func:`cxr_core.data.decode.images.decode_to_uint8_rgb_fast`); it breaks the exact Keras ``nearest``
  equivalence, so it is off by default.

Files that cannot be decoded stop the iteration with TensorFlow's error; run
:func:`cxr_core.data.decode.images.verify_images` on the table first to get a message naming each file.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from cxr_core.config.choices import AUGMENT_PLACEMENTS as PLACEMENTS, RESIZE_METHODS, SCALINGS
from cxr_core.data.augment.keras2 import Keras2AugmentSpec, apply_transform, sample_transform_params
from cxr_core.data.augment.device import RAW_IMAGES, RAW_PARAMS, DeviceAugmentation, pack_params
from cxr_core.data.decode.resave import check_resave_quality, resave_jpeg_tensor
from cxr_core.data.decode.resize import check_pre_resize
from cxr_core.data.decode.images import decode_resize_to_uint8_rgb, scale_pixels
from cxr_core.data.keras2_iteration import dataset_from_index_batches
from cxr_core.data.tables.sample_table import SampleTable
from cxr_core.seeds import augmentation_seed

AUTOTUNE = tf.data.AUTOTUNE


@dataclass(frozen=True)
class PipelineSpec:
    """How images become model inputs.

    ``image_size`` (h, w); ``resize_method`` one of ``nearest``/``bilinear``/``area``/
    ``shorter_side_center_crop``; ``scaling`` one of ``rescale01``/``minus1_1``/``imagenet``/``raw255``;
    ``augment`` the Keras-2 augmentation (None = none); ``cache`` False, True (memory) or a file path
    prefix (a hash of the file list and resize settings is appended, so a stale cache is never reused);
    ``fast_jpeg_decode`` opt-in reduced-scale JPEG decoding (not Keras-exact);
    ``augment_placement`` ``host`` (augment and scale in tf.data) or ``device`` (serve raw uint8 batches
    that the training step augments and scales: :mod:`cxr_core.data.augment.device`); ``pre_resize``
    ``(height, width, method)`` a first resize before ``image_size`` (CoroNet's 224x224 data set [S4],
    see :mod:`cxr_core.data.decode.images`), or None.
    """

    image_size: tuple[int, int]
    resize_method: str = "nearest"
    scaling: str = "rescale01"
    augment: Keras2AugmentSpec | None = None
    cache: bool | str = False
    fast_jpeg_decode: bool = False
    augment_placement: str = "host"
    pre_resize: tuple[int, int, str] | None = None
    png16: str = "scale257"  # 16-bit PNGs to 8 bits (cxr_core.data.decode.png16; preprocess.png16)
    dicom: str = "bits_stored"  # DICOM to 8 bits (cxr_core.data.decode.dicom; preprocess.dicom)
    jpeg_resave_quality: int | None = None  # JPEGs re-encoded as PIL re-saves them (cxr_core.data.decode.resave)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pre_resize", check_pre_resize(self.pre_resize))
        object.__setattr__(self, "jpeg_resave_quality", check_resave_quality(self.jpeg_resave_quality))
        size = tuple(int(v) for v in self.image_size)
        if len(size) != 2 or min(size) < 1:
            raise ValueError(f"PipelineSpec.image_size must be (height, width) > 0; got {self.image_size!r}")
        object.__setattr__(self, "image_size", size)
        if self.resize_method not in RESIZE_METHODS:
            raise ValueError(f"PipelineSpec.resize_method must be one of {RESIZE_METHODS}; got {self.resize_method!r}")
        if self.scaling not in SCALINGS:
            raise ValueError(f"PipelineSpec.scaling must be one of {SCALINGS}; got {self.scaling!r}")
        if self.augment is not None and not isinstance(self.augment, Keras2AugmentSpec):
            raise ValueError(f"PipelineSpec.augment must be a Keras2AugmentSpec or None; got {type(self.augment).__name__}")
        if self.augment_placement not in PLACEMENTS:
            raise ValueError(f"PipelineSpec.augment_placement (augment.placement) must be one of {PLACEMENTS}; "
                             f"got {self.augment_placement!r}")


def device_augmentation(spec: PipelineSpec) -> DeviceAugmentation | None:
    """What the training step must apply to this spec's training batches: None unless
    ``augment_placement`` is ``device`` and the augmentation changes images."""
    if spec.augment_placement != "device" or spec.augment is None or spec.augment.is_identity:
        return None
    return DeviceAugmentation(spec.augment, spec.scaling)


def _cache_filename(prefix: str, paths: np.ndarray, spec: PipelineSpec) -> str:
    """The cache file for these files and resize settings: a file replaced in place (new size or
    modification time) or a different list gives another name, so stale pixels are never served."""
    key = hashlib.sha256()
    key.update(repr(("v3", spec.image_size, spec.resize_method, spec.fast_jpeg_decode, spec.pre_resize)).encode())
    if spec.png16 != "scale257":
        key.update(spec.png16.encode())
    if spec.dicom != "bits_stored":
        key.update(spec.dicom.encode())
    if spec.jpeg_resave_quality is not None:
        key.update(f"resave{spec.jpeg_resave_quality}".encode())
    for p in paths:
        st = os.stat(p)
        key.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    Path(prefix).parent.mkdir(parents=True, exist_ok=True)
    return f"{prefix}.{key.hexdigest()[:16]}"


def build_dataset(
    table: SampleTable,
    spec: PipelineSpec,
    *,
    batch_size: int,
    shuffle: bool = False,
    augment: bool = False,
    seed: int = 0,
    drop_remainder: bool = False,
    repeat: bool = False,
    include_ids: bool = False,
    index_batches=None,
) -> tf.data.Dataset:
    """Batches ``(images float32 [B, h, w, 3], one-hot labels float32 [B, C])`` for ``table``.

    ``include_ids=True`` adds the sample ids (string ``[B]``) as a third element. ``augment=True``
    applies ``spec.augment`` (a no-op when it is None). ``seed`` fixes shuffling and augmentation;
    ``repeat=True`` repeats forever (reshuffled and re-augmented every epoch).

    ``index_batches``: a callable returning an iterator of sample-index arrays, one per batch (from
    :mod:`cxr_core.data.keras2_iteration`: Keras 2's steps and order); it replaces ``shuffle``,
    ``repeat`` and ``drop_remainder`` and cannot be combined with ``spec.cache``.

    With ``spec.augment_placement == "device"`` and an augmentation to apply, the images are instead a
    raw batch ``{"images": uint8 [B, h, w, 3], "augment_params": float32 [B, 9]}`` (the parameters
    drawn from the same seeds as on the host), which the model of
    :func:`cxr_core.data.augment.device.with_device_augmentation` augments and scales.
    """
    n = len(table)
    if n == 0:
        raise ValueError("build_dataset: the sample table is empty")
    if batch_size < 1:
        raise ValueError(f"build_dataset: batch_size must be >= 1; got {batch_size}")
    num_classes = len(table.class_names)
    frame = table.frame
    paths = frame["path"].astype(str).to_numpy()
    labels = frame["label_index"].to_numpy(dtype=np.int64)
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"build_dataset: label_index must lie in 0..{num_classes - 1} for classes {table.class_names}; "
            f"found {labels.min()}..{labels.max()}"
        )
    ids = frame["sample_id"].astype(str).to_numpy()
    paths_t = tf.constant(paths)
    labels_t = tf.constant(labels)
    ids_t = tf.constant(ids)
    size = spec.image_size
    method = spec.resize_method
    fast = spec.fast_jpeg_decode

    def load(i):
        contents = tf.io.read_file(tf.gather(paths_t, i))
        if spec.jpeg_resave_quality is not None:
            contents = resave_jpeg_tensor(contents, tf.gather(paths_t, i), spec.jpeg_resave_quality)
        img = decode_resize_to_uint8_rgb(contents, size, method, fast_jpeg_decode=fast, pre_resize=spec.pre_resize,
                                         png16=spec.png16, dicom=spec.dicom)
        gray = tf.reduce_all(tf.equal(img[..., :1], img[..., 1:]))  # exact test, at the small size
        return i, img, gray

    def with_label(i, img, gray):
        # Labels and ids are looked up after the cache, which holds pixels only: a cache shared by
        # experiments with other class orders or label maps never serves stale labels.
        return img, gray, tf.gather(labels_t, i), tf.gather(ids_t, i)

    cached = bool(spec.cache)
    if index_batches is not None:
        if cached:
            raise ValueError("build_dataset: index_batches (Keras 2 steps) cannot be combined with preprocess.cache")
        ds = dataset_from_index_batches(index_batches, lambda i: with_label(*load(i)), batch_size)
    else:
        ds = tf.data.Dataset.range(n)
        if shuffle and not cached:
            ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
        ds = ds.map(load, num_parallel_calls=AUTOTUNE, deterministic=True)
        if cached:
            filename = _cache_filename(spec.cache, paths, spec) if isinstance(spec.cache, str) else ""
            ds = ds.cache(filename)
            if shuffle:
                ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
        ds = ds.map(with_label, num_parallel_calls=AUTOTUNE, deterministic=True)
        if repeat:
            ds = ds.repeat()
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)

    aug_spec = spec.augment if augment else None
    if aug_spec is not None and aug_spec.is_identity:
        aug_spec = None
    scaling = spec.scaling

    def to_float(images, batch_seed):
        x = tf.cast(images, tf.float32)
        if aug_spec is not None:
            params = sample_transform_params(aug_spec, size, batch_seed, batch_size=tf.shape(x)[0])
            x = apply_transform(x, params, aug_spec)
        return x

    def finish(images, gray, label, sample_id, batch_seed=None):
        # A batch of gray images (the common case) is augmented and scaled as one channel and
        # replicated at the end: identical values (every step treats channels alike), a third of the work.
        per_channel_scaling = scaling == "imagenet"

        def as_gray():
            x = to_float(images[..., :1], batch_seed)
            if not per_channel_scaling:
                x = scale_pixels(x, scaling)
            x = tf.tile(x, [1, 1, 1, 3])
            return scale_pixels(x, scaling) if per_channel_scaling else x

        def as_rgb():
            return scale_pixels(to_float(images, batch_seed), scaling)

        x = tf.cond(tf.reduce_all(gray), as_gray, as_rgb)
        x = tf.ensure_shape(x, [None, size[0], size[1], 3])
        y = tf.one_hot(label, num_classes, dtype=tf.float32)
        return (x, y, sample_id) if include_ids else (x, y)

    def raw_for_device(images, gray, label, sample_id, batch_seed):
        params = sample_transform_params(aug_spec, size, batch_seed, batch_size=tf.shape(images)[0])
        x = {RAW_IMAGES: tf.ensure_shape(images, [None, size[0], size[1], 3]), RAW_PARAMS: pack_params(params)}
        y = tf.one_hot(label, num_classes, dtype=tf.float32)
        return (x, y, sample_id) if include_ids else (x, y)

    if aug_spec is not None:
        # The same per-batch seeds for both placements: on the device the same parameters are applied.
        on_seeded_batch = raw_for_device if spec.augment_placement == "device" else finish
        seeds = tf.data.Dataset.random(seed=augmentation_seed(seed), rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip((ds, seeds)).map(
            lambda batch, s: on_seeded_batch(*batch, batch_seed=s), num_parallel_calls=AUTOTUNE, deterministic=True
        )
    else:
        ds = ds.map(finish, num_parallel_calls=AUTOTUNE, deterministic=True)
    return ds.prefetch(AUTOTUNE)

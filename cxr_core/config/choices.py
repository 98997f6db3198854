"""Every closed set of config values, declared once as a ``Literal``; the tuples derive from it.

The config schema (:mod:`cxr_core.config.experiment`) annotates its fields with these ``Literal`` s, the
command line offers the tuples as ``choices``, and the code that acts on a value checks it against the
same tuple, so the three cannot drift apart. Nothing here imports TensorFlow.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "AugmentPlacement", "BnMovingVariance", "DataFormat", "FillMode", "Loss", "MixedPrecision", "OnBadFile",
    "Png16Mode", "PreResizeMethod", "ResizeMethod", "Scaling", "StepsMode", "Strategy", "Trainable",
    "ValidationMode", "AUGMENT_PLACEMENTS", "BN_MOVING_VARIANCES", "DATA_FORMATS", "FILL_MODES", "LOSSES",
    "MIXED_PRECISIONS", "ON_BAD_FILE", "PNG16_MODES", "PRE_RESIZE_METHODS", "RESIZE_METHODS", "SCALINGS",
    "STEPS_MODES", "STRATEGIES", "TRAINABLE", "VALIDATION_MODES",
]

#: ``data.format`` values the core reads (model families add theirs: ``DataPart.readers`` of :mod:`cxr_core.family`).
DataFormat = Literal["auto", "folders", "manifest", "covidx"]
#: ``data.on_bad_file``.
OnBadFile = Literal["raise", "skip"]
#: ``preprocess.resize_method`` (:mod:`cxr_core.data.decode.resize`).
ResizeMethod = Literal["nearest", "bilinear", "area", "shorter_side_center_crop"]
#: The PIL filter of ``preprocess.pre_resize`` (:func:`cxr_core.data.decode.resize.check_pre_resize`).
PreResizeMethod = Literal["nearest", "bilinear", "bicubic", "lanczos", "box", "hamming"]
#: ``preprocess.scaling`` (:func:`cxr_core.data.decode.images.scale_pixels`).
Scaling = Literal["rescale01", "minus1_1", "imagenet", "raw255"]
#: ``preprocess.png16`` (:mod:`cxr_core.data.decode.png16`).
Png16Mode = Literal["scale257", "sbit", "minmax"]
#: ``augment.fill_mode`` (:mod:`cxr_core.data.augment.keras2`).
FillMode = Literal["constant", "nearest", "reflect", "wrap"]
#: ``augment.placement`` (:mod:`cxr_core.data.augment.device`).
AugmentPlacement = Literal["host", "device"]
#: ``train.loss`` (:func:`cxr_core.training.fit.make_loss`).
Loss = Literal["categorical_crossentropy", "categorical_crossentropy_from_logits", "mse"]
#: ``train.steps_mode`` (:mod:`cxr_core.data.keras2_iteration`).
StepsMode = Literal["full_pass", "keras2_floor_wraparound", "tf_keras_floor_restart"]
#: ``train.bn_moving_variance`` (:mod:`cxr_core.training.batchnorm`)
BnMovingVariance = Literal["biased", "unbiased", "keras231_tf2", "keras231_tf1"]
#: ``train.trainable`` (:mod:`cxr_core.training.trainable`)
Trainable = Literal["all", "head"]
#: ``train.mixed_precision`` / ``--mixed-precision`` (:mod:`cxr_core.training.precision`; null = float32).
MixedPrecision = Literal["float32", "mixed_float16", "mixed_bfloat16", "mixed_float16_on_gpu"]
#: ``train.strategy`` / ``--strategy`` (:func:`cxr_core.training.fit.make_strategy`).
Strategy = Literal["default", "mirrored", "multi_worker"]
#: ``protocol.validation`` (:mod:`cxr_core.protocol.split_files`).
ValidationMode = Literal["test_fold", "inner_split", "validation_source", "none"]

DATA_FORMATS: tuple[str, ...] = get_args(DataFormat)
ON_BAD_FILE: tuple[str, ...] = get_args(OnBadFile)
RESIZE_METHODS: tuple[str, ...] = get_args(ResizeMethod)
PRE_RESIZE_METHODS: tuple[str, ...] = get_args(PreResizeMethod)
SCALINGS: tuple[str, ...] = get_args(Scaling)
PNG16_MODES: tuple[str, ...] = get_args(Png16Mode)
FILL_MODES: tuple[str, ...] = get_args(FillMode)
AUGMENT_PLACEMENTS: tuple[str, ...] = get_args(AugmentPlacement)
LOSSES: tuple[str, ...] = get_args(Loss)
STEPS_MODES: tuple[str, ...] = get_args(StepsMode)
BN_MOVING_VARIANCES: tuple[str, ...] = get_args(BnMovingVariance)
TRAINABLE: tuple[str, ...] = get_args(Trainable)
MIXED_PRECISIONS: tuple[str, ...] = get_args(MixedPrecision)
STRATEGIES: tuple[str, ...] = get_args(Strategy)
VALIDATION_MODES: tuple[str, ...] = get_args(ValidationMode)

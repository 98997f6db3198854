"""Write Keras ``.weights.h5`` files from PyTorch checkpoints: the authors' CORONA-Net and torchvision's VGG16-BN.

The in-memory conversion (key maps, layout changes, the :class:`ConversionReport`) is
:mod:`coronanet_tf.torch_weights`; here its arrays are copied by layer name into the Keras model
(:func:`cxr_core.weights.transfer.copy_weights`) and saved atomically. PyTorch is needed (``pip install
covid-cxr-tf[torch]``); files are read with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Mapping

import numpy as np

from coronanet_tf.model import build_coronanet, build_vgg16_bn_backbone
from coronanet_tf.torch_weights import ConversionReport, coronanet_arrays_from_torch, torchvision_vgg16_bn_arrays
from cxr_core.atomic_files import atomic_path
from cxr_core.errors import CxrError
from cxr_core.weights.transfer import copy_weights

log = logging.getLogger(__name__)


def _save_model_weights(model, arrays: Mapping[str, list[np.ndarray]], dst: str | os.PathLike, source: str) -> Path:
    dst = Path(dst)
    if not dst.name.endswith(".weights.h5"):
        raise CxrError(f"destination must end with .weights.h5 (Keras 3 weights format); found {dst}")
    copy_weights(model, dict(arrays), source_name=source, allow=("not_in_source",))
    with atomic_path(dst, suffix=".weights.h5") as tmp:
        model.save_weights(tmp)
    return dst


def convert_torch_checkpoint(
    src: str | os.PathLike, dst: str | os.PathLike, num_classes: int | None = None
) -> ConversionReport:
    """Convert the authors' ``covid.pth.tar`` (or a bare ``vgg_ae`` state dict) to a Keras file.

    Args:
        src: PyTorch checkpoint (see module docstring) [CR].
        dst: output path ending in ``.weights.h5``; written atomically (temporary name in the same
            folder, then ``os.replace``). Holds the weights of ``build_coronanet(num_classes,
            with_decoder=report.with_decoder)``; :func:`coronanet_tf.weights.load_weights`
            loads it into a model with or without the decoder.
        num_classes: expected classes (``None``: read from the checkpoint).

    Returns:
        :class:`ConversionReport` (also logged at INFO level): converted, ignored (the unused
        ``dec.conv1..3``, ``dec.fc``, ``dec.fc1`` and ``num_batches_tracked``), missing, dtype casts.
    """
    arrays, report = coronanet_arrays_from_torch(src, num_classes=num_classes)
    model = build_coronanet(num_classes=report.num_classes, with_decoder=report.with_decoder)
    _save_model_weights(model, arrays, dst, report.source)
    report = dataclasses.replace(report, destination=str(dst))
    log.info("%s", report.summary())
    return report


def convert_torchvision_vgg16_bn(src: str | os.PathLike, dst: str | os.PathLike) -> ConversionReport:
    """Convert torchvision's ImageNet ``vgg16_bn`` weights (e.g. ``vgg16_bn-6c64b313.pth``) to Keras.

    Writes the weights of :func:`coronanet_tf.model.build_vgg16_bn_backbone` to ``dst``
    (``.weights.h5``, atomically); pass ``dst`` as ``build_coronanet(backbone_weights=dst)`` to start
    phase 1 from ImageNet as the authors did [CR]. Returns a :class:`ConversionReport`.
    """
    arrays, report = torchvision_vgg16_bn_arrays(src)
    _save_model_weights(build_vgg16_bn_backbone(), arrays, dst, report.source)
    report = dataclasses.replace(report, destination=str(dst))
    log.info("%s", report.summary())
    return report

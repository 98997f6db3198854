"""CORONA-Net's weight files: the family's ``load`` and ``recognise`` hooks (:class:`cxr_core.family.WeightsPart`).

:func:`load_weights` reads our Keras 3 weights (with or without the decoder) and the authors' PyTorch
checkpoint (converted in memory, needs PyTorch) [CR]; :func:`recognise_weights` tells a CORONA-Net
weight file from another family's without unpickling it.
"""

from __future__ import annotations

import os
from pathlib import Path

import keras

from coronanet_tf.layout import BOTTLENECK_CHANNELS, CLASSIFIER_UNITS, VGG16_BN_CONV_INDICES
from coronanet_tf.model import build_coronanet, is_torch_file
from coronanet_tf.torch_weights import coronanet_arrays_from_torch
from cxr_core.weights.files import WeightFileError, WeightFileSummary
from cxr_core.weights.load import load_keras_weights
from cxr_core.weights.transfer import copy_weights, numbered_members, weighted_layers


def load_weights(model: keras.Model, path: str | os.PathLike) -> keras.Model:
    """Load full CORONA-Net weights into ``model`` (with or without the decoder); returns ``model``.

    ``path`` is a ``.weights.h5`` written by :func:`coronanet_tf.convert.convert_torch_checkpoint`
    (always saved with the decoder) or a PyTorch checkpoint (``covid.pth.tar`` or a bare state
    dict; converted in memory, needs PyTorch). Layers are matched by name, so a file with the decoder
    loads into a model without it. Errors name the file, the layer, the expected and found shapes.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CORONA-Net weights file not found: {path}")
    has_decoder = any(layer.name == "reconstruction" for layer in model.layers)
    num_classes = int(model.get_layer("logits").output.shape[-1])
    if is_torch_file(path):
        arrays, _ = coronanet_arrays_from_torch(path, num_classes=num_classes, with_decoder=has_decoder)
    else:
        errors = []
        for donor_decoder in ((True, False) if num_classes == 3 else (False,)):
            try:
                donor = load_keras_weights(build_coronanet(num_classes=num_classes, with_decoder=donor_decoder), path)
                break
            except WeightFileError as exc:
                errors.append(f"with_decoder={donor_decoder}: {exc}")
        else:
            raise WeightFileError(
                f"{path}: not a CORONA-Net weights file for num_classes={num_classes} "
                f"(written by convert_torch_checkpoint or save_weights of build_coronanet): {'; '.join(errors)}"
            )
        if has_decoder and not donor_decoder:
            raise WeightFileError(f"{path}: holds no decoder weights, but model {model.name!r} has the decoder")
        arrays = {name: layer.get_weights() for name, layer in weighted_layers(donor).items()
                  if has_decoder or not name.startswith("dec_")}
    copy_weights(model, arrays, source_name=str(path), allow=("not_in_source",))
    return model


def recognise_weights(summary: WeightFileSummary) -> bool:
    """Whether a weight file looks like a CORONA-Net's (``FAMILY.weights.recognise``).

    A PyTorch checkpoint (the authors' ``covid.pth.tar`` [CR]); Keras-2 layer names ``net_fet_*`` /
    ``nscnn_0``; Keras 3: the bottleneck Linear kernel (4900, 50), the decoder's transposed
    convolutions, or the VGG16-BN features alone (13 convolutions, 13 batch norms, nothing else).
    """
    if summary.format == "torch":
        return True
    if summary.format.startswith("keras2"):
        return "nscnn_0" in summary.layers or "net_fet_0" in summary.layers
    if not summary.format.startswith("keras3"):
        return False
    bottleneck = [(BOTTLENECK_CHANNELS * 7 * 7, CLASSIFIER_UNITS[0]), (CLASSIFIER_UNITS[0],)]
    if any(shapes == bottleneck for shapes in summary.layers.values()):
        return True
    if any(key.startswith("conv2d_transpose") for key in summary.top_level):
        return True
    stems = {key.rsplit("_", 1)[0] if key.rsplit("_", 1)[-1].isdigit() else key for key in summary.top_level}
    n_conv = len(numbered_members(summary.top_level, "conv2d"))
    return stems == {"conv2d", "batch_normalization"} and n_conv == len(VGG16_BN_CONV_INDICES)

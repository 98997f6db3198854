"""ImageNet (or any file's) weights for CVR-Net's two encoders, ResNet50 ``res_*`` and Xception ``xce_*``.

The authors built both encoders with ``weights='imagenet'`` [CVR-T]; :func:`load_backbone_weights`
copies such weights into a built model by layer name through :func:`cxr_core.weights.transfer.copy_weights`;
the five branch heads are left as they are.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Mapping

import keras
import numpy as np

from cxr_core.weights.files import read_keras2_weights
from cxr_core.weights.transfer import copy_weights, numbered_members, renumber_map, weighted_layers

from .layer_names import RES_PREFIX, XCE_PREFIX, resnet_name_map

LEGACY_RESNET50_NOTOP = (
    "https://github.com/fchollet/deep-learning-models/releases/download/v0.2/"
    "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "a268eb855778b3df3c7506639542a6af",
)
#: Xception's anonymous residual layers (four of each), auto-numbered by Keras [KA].
XCEPTION_ANONYMOUS = ("conv2d", "batch_normalization")


def model_resnet_flavour(model: keras.Model) -> str:
    """``"legacy"`` or ``"keras"``: the ResNet50 naming of a model built by ``build_cvrnet``."""
    names = {layer.name for layer in model.layers}
    if RES_PREFIX + "conv1" in names:
        return "legacy"
    if RES_PREFIX + "conv1_conv" in names:
        return "keras"
    raise ValueError(f"model {model.name!r} has no {RES_PREFIX}conv1 / {RES_PREFIX}conv1_conv layer: not a CVR-Net")


def _backbone_layers(model: keras.Model, prefix: str) -> "OrderedDict[str, object]":
    return OrderedDict((n, l) for n, l in weighted_layers(model).items() if n.startswith(prefix))


def _from_keras_application(app: keras.Model, ours: Mapping[str, object], prefix: str, name_map: Mapping[str, str]):
    """Stored arrays and our->stored name map for copying from an instantiated ``keras.applications`` model.

    Xception's anonymous residual layers (``xce_conv2d_1..4``) pair with the application's in
    numbering order, whatever number Keras' session counter gave them.
    """
    stored = OrderedDict((l.name, l.get_weights()) for l in app.layers if l.weights)
    mapping = {name: name_map.get(name[len(prefix):], name[len(prefix):]) for name in ours}
    if prefix == XCE_PREFIX:
        mapping.update(renumber_map(ours, stored, {XCE_PREFIX + s: s for s in XCEPTION_ANONYMOUS}))
    return stored, mapping


def _imagenet(model: keras.Model, resnet: str, res_layers, xce_layers) -> list[str]:
    input_shape = tuple(model.input.shape[1:])
    done: list[str] = []
    if resnet == "legacy":
        url, md5 = LEGACY_RESNET50_NOTOP
        path = keras.utils.get_file("resnet50_keras_applications_1.0.8_notop.h5", url,
                                    file_hash=md5, cache_subdir="models")
        mapping = {n: n[len(RES_PREFIX):] for n in res_layers}
        done += copy_weights(res_layers, read_keras2_weights(path), name_map=mapping, source_name=path,
                             allow=("not_in_target",)).filled
    else:
        app = keras.applications.ResNet50(include_top=False, weights="imagenet", input_shape=input_shape)
        stored, mapping = _from_keras_application(app, res_layers, RES_PREFIX, resnet_name_map())
        done += copy_weights(res_layers, stored, name_map=mapping, source_name="keras.applications.ResNet50",
                             allow=("not_in_target",)).filled
    app = keras.applications.Xception(include_top=False, weights="imagenet", input_shape=input_shape)
    stored, mapping = _from_keras_application(app, xce_layers, XCE_PREFIX, {})
    done += copy_weights(xce_layers, stored, name_map=mapping, source_name="keras.applications.Xception",
                         allow=("not_in_target",)).filled
    return done


def load_backbone_weights(model: keras.Model, weights, *, resnet: str | None = None) -> list[str]:
    """Initialise the two encoders of a CVR-Net; the heads are left as they are.

    Args:
        model: a model from :func:`cvrnet_tf.build_cvrnet`.
        weights: ``"imagenet"`` or one or more Keras-2 HDF5 files whose layers carry our names with
            or without the ``res_``/``xce_`` prefix (e.g. the keras-applications 1.0.8 notop files,
            or an authors'-format CVR-Net file).
        resnet: the model's ResNet50 flavour; detected when ``None``.

    ImageNet sources: legacy flavour - the keras-applications 1.0.8 ResNet50 notop file (md5
    ``a268eb85...``) [KA], the file the authors' ``ResNet50(weights='imagenet')`` loaded [CVR-T];
    keras flavour - Keras 3's ResNet50 (``resnet_common`` file, md5 ``4d473c1d...``); Xception -
    Keras 3's Xception, whose file is the one keras-applications 1.0.8 used [KA]. Downloads go through
    ``keras.utils.get_file`` (cache ``~/.keras/models``).

    Returns:
        Names of the layers that received weights.

    Raises:
        cxr_core.weights.files.WeightFileError: an encoder layer is missing from the source or has other
            shapes (named, with both shapes); nothing is assigned then.
    """
    resnet = resnet or model_resnet_flavour(model)
    res_layers = _backbone_layers(model, RES_PREFIX)
    xce_layers = _backbone_layers(model, XCE_PREFIX)
    if isinstance(weights, str) and weights == "imagenet":
        return _imagenet(model, resnet, res_layers, xce_layers)

    paths = [weights] if isinstance(weights, (str, Path)) else list(weights)
    stored: OrderedDict[str, list[np.ndarray]] = OrderedDict()
    for p in paths:
        stored.update(read_keras2_weights(p))
    layers = OrderedDict(list(res_layers.items()) + list(xce_layers.items()))
    mapping = {name: name if name in stored else name.split("_", 1)[1] for name in layers}
    # Xception's anonymous residual layers: whatever base the file numbers them from (with or
    # without the prefix), the k-th in index order is our k-th.
    for stem in XCEPTION_ANONYMOUS:
        for candidate in (XCE_PREFIX + stem, stem):
            if len(numbered_members(stored, candidate)) == 4:
                mapping.update(renumber_map(layers, stored, {XCE_PREFIX + stem: candidate}))
                break
    source = ", ".join(str(p) for p in paths)
    return copy_weights(layers, stored, name_map=mapping, source_name=source, allow=("not_in_target",)).filled

"""Loading the authors' CVR-Net weight files into our Keras 3 model.

The authors trained with standalone Keras 2.3.1 and saved with ``ModelCheckpoint(...,
save_weights_only=True)`` to ``Model_task_{t}_Fold_{f}.hdf5`` [CVR-T] (docs/PAPERS.md §2.6; no file is
published: "If you need our trained model, feel free to write me an e-mail" [CVR-C]). Such a file is
a Keras-2 weights-only HDF5 with one group per layer of the authors' model, named as their notebook's
summary shows: ``res_conv1``, ``res_bn_conv1``, ``res_res2a_branch2a`` ... (legacy ResNet50 with the
``res_`` prefix), ``xce_block1_conv1`` ... ``xce_conv2d_1..4``, ``xce_batch_normalization_1..4``
(Xception with ``xce_``), ``dense_1`` ... ``dense_15`` and ``MKH_1`` ... ``MKH_5`` [CVR-T].

Auto-numbered names depend on the Keras line that wrote the file: Keras 2.3.1 numbers from 1
(``dense_1`` ... ``dense_15``, ``xce_conv2d_1`` ...), tf.keras / tf_keras from 0 (``dense``,
``dense_1`` ... ``dense_14``, ``xce_conv2d`` ...), and a session that had built other layers first
starts higher. We take each auto-numbered family (``dense``, ``xce_conv2d``,
``xce_batch_normalization``) in index order and check it is one contiguous run of the expected
length; the k-th member maps to our k-th layer of that family (:func:`cxr_core.weights.transfer.renumber_map`) (the authors created them in branch
order, docs/PAPERS.md §2.1).

Matching is by name, never by position; every count and shape is checked before anything is
assigned, and a file that does not fit fails with a message naming the first layer that differs
(:func:`cxr_core.weights.transfer.copy_weights`). Encoder-only (ImageNet) weights: :mod:`cvrnet_tf.backbone`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import keras
import numpy as np

from cxr_core.weights.files import WeightFileError, WeightFileSummary, read_keras2_weights
from cxr_core.weights.transfer import copy_weights, numbered_members, renumber_map, weighted_layers

from .layer_names import NUM_BRANCHES, RES_PREFIX, RESNET_FLAVOURS, XCE_PREFIX, resnet_name_map
from .model import build_cvrnet

#: Auto-numbered weight-bearing layer families of the authors' model: name stem -> how many.
NUMBERED_FAMILIES = {"dense": 3 * NUM_BRANCHES, XCE_PREFIX + "conv2d": 4, XCE_PREFIX + "batch_normalization": 4}


def numbering_map(stored_names, *, source: str = "") -> dict[str, str]:
    """Our auto-numbered layer names (``dense_1``, ``xce_conv2d_1`` ...) -> the file's names.

    Detects whether the file numbers from 1 (Keras 2.3.1), from 0 (tf.keras: ``dense``, ``dense_1``
    ...) or from any other start, and requires one contiguous run of the expected length per family.
    """
    ours = [f"{stem}_{k}" for stem, count in NUMBERED_FAMILIES.items() for k in range(1, count + 1)]
    mapping = {name: name for name in ours}
    mapping.update(renumber_map(ours, stored_names, list(NUMBERED_FAMILIES), expected=NUMBERED_FAMILIES, source=source))
    return mapping


def stored_resnet_flavour(stored_names) -> str:
    """``"legacy"`` when the file's ResNet50 has keras-applications 1.0.8 names, ``"keras"`` for Keras 3 names."""
    names = set(stored_names)
    if RES_PREFIX + "conv1" in names:
        return "legacy"
    if RES_PREFIX + "conv1_conv" in names:
        return "keras"
    raise WeightFileError(
        f"no ResNet50 stem found (expected a layer {RES_PREFIX}conv1 (legacy) or {RES_PREFIX}conv1_conv (Keras 3))"
    )


def released_name_map(model_layer_names, stored_names, *, source: str = "") -> dict[str, str]:
    """Our layer name -> file layer name, for every weight-bearing layer of our model.

    Handles the numbering base of auto-named layers and a ResNet50 flavour that differs between the
    file and the model (legacy names <-> Keras 3 names; the numbers then differ by the BN epsilon).
    """
    name_map = numbering_map(stored_names, source=source)
    try:
        file_flavour = stored_resnet_flavour(stored_names)
    except WeightFileError as exc:
        raise WeightFileError(f"{source}: {exc}" if source else str(exc)) from None
    ours = set(model_layer_names)
    model_flavour = "legacy" if RES_PREFIX + "conv1" in ours else "keras"
    if file_flavour != model_flavour:
        forward = resnet_name_map()
        table = forward if model_flavour == "legacy" else {v: k for k, v in forward.items()}
        for name in model_layer_names:
            if name.startswith(RES_PREFIX) and name[len(RES_PREFIX):] in table:
                name_map[name] = RES_PREFIX + table[name[len(RES_PREFIX):]]
    return name_map


def infer_num_classes(stored: Mapping[str, list[np.ndarray]], *, source: str = "") -> int:
    """Number of classes of a CVR-Net weight file: the output width of its five softmax Dense layers."""
    names = numbering_map(list(stored), source=source)
    widths = {names[f"dense_{3 * k}"]: stored[names[f"dense_{3 * k}"]][0].shape[-1] for k in range(1, NUM_BRANCHES + 1)}
    if len(set(widths.values())) != 1:
        raise WeightFileError(f"{source}: the five softmax layers disagree on the number of classes: {widths}")
    return int(next(iter(widths.values())))


def load_released_weights(
    path: str | Path,
    num_classes: int | None = None,
    model: keras.Model | None = None,
    *,
    resnet: str = "legacy",
    input_shape: Sequence[int] = (224, 224, 3),
    input_scaling: str = "raw255",
) -> keras.Model:
    """Load an authors'-format CVR-Net weights file (``Model_task_{t}_Fold_{f}.hdf5``) [CVR-T].

    Args:
        path: Keras-2 HDF5 file (weights-only as ``ModelCheckpoint(save_weights_only=True)`` wrote
            it, or a full-model file), written by Keras 2.3.1 or by tf.keras.
        num_classes: classes of the model to build; inferred from the file's last Dense kernel when
            ``None``. Ignored when ``model`` is given (the file must then fit ``model``).
        model: a model from :func:`build_cvrnet` to load into; built when ``None``.
        resnet, input_shape, input_scaling: passed to :func:`build_cvrnet` when the model is built.
            The authors' files hold a legacy ResNet50; loading into ``resnet="keras"`` works by name
            map but changes the outputs (BN epsilon 1e-3 -> 1.001e-5, docs/PAPERS.md §2.1).

    Returns:
        The model with every weight taken from the file.

    Raises:
        WeightFileError: naming the file and the first layer that differs (missing, wrong number
        of weights, wrong shape), or a file layer the model lacks. Nothing is assigned then.
    """
    source = str(path)
    stored = read_keras2_weights(path)
    file_classes = infer_num_classes(stored, source=source)
    if model is None:
        if resnet not in RESNET_FLAVOURS:
            raise ValueError(f"resnet must be one of {RESNET_FLAVOURS}, got {resnet!r}")
        if num_classes is not None and int(num_classes) != file_classes:
            raise WeightFileError(
                f"{source}: asked for {num_classes} classes but the file's softmax layers have {file_classes} outputs"
            )
        model = build_cvrnet(num_classes=file_classes, input_shape=input_shape, resnet=resnet,
                             input_scaling=input_scaling)
    name_map = released_name_map(list(weighted_layers(model)), list(stored), source=source)
    copy_weights(model, stored, name_map=name_map, source_name=source)
    return model


def load_weights(model: keras.Model, path: str | Path) -> keras.Model:
    """``FAMILY.weights.load`` hook: :func:`load_released_weights` into an existing model."""
    return load_released_weights(path, model=model)


def recognise_weights(summary: WeightFileSummary) -> bool:
    """Whether a weight file looks like a CVR-Net's (``FAMILY.weights.recognise``).

    Keras-2: layers prefixed ``res_`` / ``xce_`` and the ``MKH_k`` branch layers [CVR-T]. Keras 3: one
    flat model with separable convolutions (Xception) and four Dense layers per branch.
    """
    names = list(summary.layers)
    if summary.format.startswith("keras2"):
        return any(n.startswith(("MKH_", XCE_PREFIX)) for n in names) and any(n.startswith(RES_PREFIX) for n in names)
    if summary.format.startswith("keras3"):
        flat_separable = any(key.startswith("separable_conv2d") for key in summary.top_level)
        return flat_separable and len(numbered_members(summary.top_level, "dense")) == 4 * NUM_BRANCHES
    return False

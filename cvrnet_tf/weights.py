"""Loading the authors' CVR-Net weight files and ImageNet backbone weights into our Keras 3 model.

The authors trained with standalone Keras 2.3.1 and saved with ``ModelCheckpoint(...,
save_weights_only=True)`` to ``Model_task_{t}_Fold_{f}.hdf5`` [CVR-T] (PAPERS.md §2.6; no file is
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
length; the k-th member maps to our k-th layer of that family (the authors created them in branch
order, PAPERS.md §2.1).

Matching is by name, never by position; every count and shape is checked before anything is
assigned, and a file that does not fit fails with a message naming the first layer that differs
(``cxr_core.legacy.assign_weights``).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from pathlib import Path
from typing import Mapping, Sequence

import keras
import numpy as np

from cxr_core.legacy import WeightFileError, assign_weights, read_keras2_file, weighted_layers

from .model import NUM_BRANCHES, RES_PREFIX, RESNET_FLAVOURS, XCE_PREFIX, build_cvrnet, resnet_name_map

# Auto-numbered weight-bearing layer families of the authors' model: file-name stem -> how many.
NUMBERED_FAMILIES = {"dense": 3 * NUM_BRANCHES, XCE_PREFIX + "conv2d": 4, XCE_PREFIX + "batch_normalization": 4}

LEGACY_RESNET50_NOTOP = (
    "https://github.com/fchollet/deep-learning-models/releases/download/v0.2/"
    "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "a268eb855778b3df3c7506639542a6af",
)


def read_layer_groups(path: str | Path) -> "OrderedDict[str, list[np.ndarray]]":
    """Layer name -> weights of a Keras-2 HDF5 file, keyed by the file's layer GROUP names.

    ``cxr_core.legacy.read_keras2_weights`` keys layers by the prefix of their weight names, which
    is the name a layer had when its weights were created. The authors renamed every backbone layer
    after building it (``layer.name = "res_" + layer.name`` [CVR-T]), so their groups are called
    ``res_conv1`` while the weights inside are still ``conv1/kernel:0`` (tf_keras does the same,
    checked). A group holding a single layer is therefore keyed by the group name; a group holding
    several (a nested model) keeps the inner layer names.
    """
    stored_file = read_keras2_file(path)
    by_group: OrderedDict[str, list] = OrderedDict()
    for layer in stored_file.layers.values():
        by_group.setdefault(layer.group, []).append(layer)
    out: OrderedDict[str, list[np.ndarray]] = OrderedDict()
    for group, members in by_group.items():
        if len(members) == 1:
            out[group.rstrip("/").rsplit("/", 1)[-1]] = members[0].arrays
        else:
            for layer in members:
                out[layer.name] = layer.arrays
    return out


def _numbered_members(names, stem: str) -> list[tuple[int, str]]:
    pattern = re.compile(rf"^{re.escape(stem)}(?:_(\d+))?$")
    found = []
    for name in names:
        m = pattern.match(name)
        if m:
            found.append((int(m.group(1)) if m.group(1) else 0, name))
    return sorted(found)


def numbering_map(stored_names, *, source: str = "") -> dict[str, str]:
    """Our auto-numbered layer names (``dense_1``, ``xce_conv2d_1`` ...) -> the file's names.

    Detects whether the file numbers from 1 (Keras 2.3.1), from 0 (tf.keras: ``dense``, ``dense_1``
    ...) or from any other start, and requires one contiguous run of the expected length per family.
    """
    where = f"{source}: " if source else ""
    mapping: dict[str, str] = {}
    for stem, expected in NUMBERED_FAMILIES.items():
        members = _numbered_members(stored_names, stem)
        indices = [i for i, _ in members]
        if len(members) != expected or indices != list(range(indices[0], indices[0] + expected)):
            raise WeightFileError(
                f"{where}expected {expected} weight-bearing layers named {stem}_<n> with consecutive numbers "
                f"(Keras 2.3.1 numbers from 1, tf.keras from 0), found {len(members)}: {[n for _, n in members]}"
            )
        for k, (_, name) in enumerate(members, start=1):
            mapping[f"{stem}_{k}"] = name
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


def _model_resnet_flavour(model: keras.Model) -> str:
    names = {layer.name for layer in model.layers}
    if RES_PREFIX + "conv1" in names:
        return "legacy"
    if RES_PREFIX + "conv1_conv" in names:
        return "keras"
    raise ValueError(f"model {model.name!r} has no {RES_PREFIX}conv1 / {RES_PREFIX}conv1_conv layer: not a CVR-Net")


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
            map but changes the outputs (BN epsilon 1e-3 -> 1.001e-5, PAPERS.md §2.1).

    Returns:
        The model with every weight taken from the file.

    Raises:
        WeightFileError: naming the file and the first layer that differs (missing, wrong number
        of weights, wrong shape), or a file layer the model lacks. Nothing is assigned then.
    """
    source = str(path)
    stored = read_layer_groups(path)
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
    ours = weighted_layers(model)
    name_map = released_name_map(list(ours), list(stored), source=source)
    assign_weights(ours, stored, name_map, source=source, strict=True)
    return model


def load_weights_into(model: keras.Model, path: str | Path) -> keras.Model:
    """``ModelFamily.load_weights`` hook: :func:`load_released_weights` into an existing model."""
    return load_released_weights(path, model=model)


# ---------------------------------------------------------------------------------------- backbones
def _backbone_layers(model: keras.Model, prefix: str) -> "OrderedDict[str, object]":
    return OrderedDict((n, l) for n, l in weighted_layers(model).items() if n.startswith(prefix))


def _from_keras_application(app: keras.Model, ours: Mapping[str, object], prefix: str, name_map: Mapping[str, str]):
    """Stored dict and our->stored map for copying from an instantiated ``keras.applications`` model.

    Anonymous layers (Xception's residual ``conv2d``/``batch_normalization``) are matched by their
    order of appearance, which is their depth order.
    """
    stored = OrderedDict((l.name, l.get_weights()) for l in app.layers if l.weights)
    anonymous = {"conv2d": [], "batch_normalization": []}
    for l in app.layers:
        for stem in anonymous:
            if l.weights and re.match(rf"^{stem}(_\d+)?$", l.name):
                anonymous[stem].append(l.name)
    mapping = {}
    for name in ours:
        bare = name[len(prefix):]
        m = re.match(r"^(conv2d|batch_normalization)_(\d+)$", bare)
        if m and prefix == XCE_PREFIX:
            mapping[name] = anonymous[m.group(1)][int(m.group(2)) - 1]
        else:
            mapping[name] = name_map.get(bare, bare)
    return stored, mapping


def load_backbone_weights(model: keras.Model, weights, *, resnet: str | None = None) -> list[str]:
    """Initialise the two encoders of a CVR-Net; the heads are left as they are.

    Args:
        model: a model from :func:`build_cvrnet`.
        weights: ``"imagenet"`` or one or more Keras-2 HDF5 files whose layers carry our names with
            or without the ``res_``/``xce_`` prefix (e.g. the keras-applications 1.0.8 notop files).
        resnet: the model's ResNet50 flavour; detected when ``None``.

    ImageNet sources: legacy flavour - the keras-applications 1.0.8 ResNet50 notop file (md5
    ``a268eb85...``) [KA], the file the authors' ``ResNet50(weights='imagenet')`` loaded [CVR-T];
    keras flavour - Keras 3's ResNet50 (``resnet_common`` file, md5 ``4d473c1d...``); Xception -
    Keras 3's Xception, whose file is the one keras-applications 1.0.8 used [KA]. Downloads go through
    ``keras.utils.get_file`` (cache ``~/.keras/models``).

    Returns:
        Names of the layers that received weights.
    """
    resnet = resnet or _model_resnet_flavour(model)
    res_layers = _backbone_layers(model, RES_PREFIX)
    xce_layers = _backbone_layers(model, XCE_PREFIX)
    input_shape = tuple(model.input.shape[1:])
    done: list[str] = []
    if isinstance(weights, str) and weights == "imagenet":
        if resnet == "legacy":
            url, md5 = LEGACY_RESNET50_NOTOP
            path = keras.utils.get_file("resnet50_keras_applications_1.0.8_notop.h5", url,
                                        file_hash=md5, cache_subdir="models")
            stored = read_layer_groups(path)
            done += assign_weights(res_layers, stored, {n: n[len(RES_PREFIX):] for n in res_layers},
                                   source=path, strict=False)
        else:
            app = keras.applications.ResNet50(include_top=False, weights="imagenet", input_shape=input_shape)
            stored, mapping = _from_keras_application(app, res_layers, RES_PREFIX, resnet_name_map())
            done += assign_weights(res_layers, stored, mapping, source="keras.applications.ResNet50", strict=False)
        app = keras.applications.Xception(include_top=False, weights="imagenet", input_shape=input_shape)
        stored, mapping = _from_keras_application(app, xce_layers, XCE_PREFIX, {})
        done += assign_weights(xce_layers, stored, mapping, source="keras.applications.Xception", strict=False)
        return done

    paths = [weights] if isinstance(weights, (str, Path)) else list(weights)
    stored: OrderedDict[str, list[np.ndarray]] = OrderedDict()
    for p in paths:
        stored.update(read_layer_groups(p))
    source = ", ".join(str(p) for p in paths)
    layers = OrderedDict(list(res_layers.items()) + list(xce_layers.items()))
    mapping = {}
    for name in layers:
        bare = name.split("_", 1)[1]
        mapping[name] = name if name in stored else bare
    # Xception's anonymous residual layers: whatever base the file numbers them from (with or
    # without the prefix), the k-th in index order is our k-th.
    for stem in ("conv2d", "batch_normalization"):
        for candidate in (XCE_PREFIX + stem, stem):
            members = _numbered_members(stored, candidate)
            if len(members) == 4:
                for k, (_, file_name) in enumerate(members, start=1):
                    mapping[f"{XCE_PREFIX}{stem}_{k}"] = file_name
                break
    return assign_weights(layers, stored, mapping, source=source, strict=False)

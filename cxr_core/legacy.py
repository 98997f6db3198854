"""Reading Keras-2 HDF5 files (full models and weights-only) into Keras 3 models.

The authors of CoroNet and CVR-Net saved their models with Keras 2 (tf.keras 2.x, standalone Keras
2.3.1): CoroNet's ``4-class-Covid19-Mod-Xception.h5`` is a full model whose Sequential holds a
nested ``xception`` model [CN]; CVR-Net's ``Model_task_{t}_Fold_{f}.hdf5`` are weights-only files
written by ``ModelCheckpoint(save_weights_only=True)`` [CVR-T]. Keras 3 cannot deserialize the
former (VERIFIED.md: BatchNormalization ``axis`` lists, SeparableConv2D arguments, nested
``output_layers``), so we never rebuild a model from a file's config: we build our own model and
copy weights by layer name. Only ``h5py`` is used to read the file; nothing is unpickled or
evaluated.

File layout read here (Keras 2 ``hdf5_format``):
- weights-only: root attribute ``layer_names``; one group per top-level layer with attribute
  ``weight_names`` (``"block1_conv1/kernel:0"`` ...), datasets at those names inside the group;
- full model: the same under the group ``model_weights``, plus root attributes ``model_config``,
  ``keras_version`` and ``backend``, and optionally ``optimizer_weights`` (ignored).
A nested model appears as one group whose ``weight_names`` carry the inner layer names; we flatten
them to the inner layers, so a nested ``xception`` yields ``block1_conv1`` ... ``block14_sepconv2_bn``.
A group with one layer's weights keeps the group's name, which is the layer's name at save time even
when the layer was renamed after its variables were created (CVR-Net's ``res_``/``xce_`` prefixes).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import h5py
import numpy as np


class WeightFileError(ValueError):
    """A weight file does not fit the model it is loaded into; the message says where and how."""


@dataclass
class StoredLayer:
    """The weights of one layer as a Keras-2 file stores them, in stored order."""

    name: str
    weight_names: list[str]
    arrays: list[np.ndarray]
    group: str  # HDF5 path of the group that holds them


@dataclass
class Keras2File:
    """What a Keras-2 HDF5 file holds: its layers' weights and, for full models, the config."""

    path: Path
    kind: str  # "full_model" or "weights_only"
    layers: "OrderedDict[str, StoredLayer]"
    model_config: dict | None = None
    keras_version: str | None = None
    backend: str | None = None
    top_level_layer_names: list[str] = field(default_factory=list)


def _as_str(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _str_list(attr: Any) -> list[str]:
    return [_as_str(v) for v in np.asarray(attr).reshape(-1)]


def _layer_of_weight(weight_name: str, group_name: str) -> str:
    """The layer a stored weight belongs to: the path component before the variable name."""
    parts = weight_name.split("/")
    return parts[-2] if len(parts) >= 2 else group_name


def read_keras2_file(path: str | Path) -> Keras2File:
    """Read every layer's weights from a Keras-2 HDF5 file (full model or weights-only).

    Raises :class:`WeightFileError` naming the file when it is not such a file, and when two
    weight-bearing layers share a name (the file could not then be mapped by name).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weight file not found: {path}")
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise WeightFileError(f"{path}: not an HDF5 file ({exc})") from exc
    with handle as f:
        if "model_weights" in f:
            root, kind = f["model_weights"], "full_model"
        else:
            root, kind = f, "weights_only"
        if "layer_names" not in root.attrs:
            found = sorted(root.attrs.keys()) or "none"
            raise WeightFileError(
                f"{path}: not a Keras-2 HDF5 weight file (expected the attribute 'layer_names' on "
                f"{'/model_weights' if kind == 'full_model' else 'the root group'}; found attributes: {found}). "
                "Keras 3 '.weights.h5' files load with model.load_weights instead."
            )
        model_config = None
        if "model_config" in f.attrs:
            try:
                model_config = json.loads(_as_str(f.attrs["model_config"]))
            except json.JSONDecodeError as exc:
                raise WeightFileError(f"{path}: attribute 'model_config' is not valid JSON ({exc})") from exc
        top_names = _str_list(root.attrs["layer_names"])
        layers: OrderedDict[str, StoredLayer] = OrderedDict()
        for group_name in top_names:
            if group_name not in root:
                raise WeightFileError(f"{path}: layer_names lists {group_name!r} but the file has no such group")
            group = root[group_name]
            weight_names = _str_list(group.attrs.get("weight_names", []))
            # A group holding one layer's weights is that layer, whatever its variables are called: the
            # authors renamed layers after building them (group "res_conv1", weights "conv1/kernel:0")
            # [CVR-T]. A group whose weights name several layers is a nested model: flatten it.
            single = len({_layer_of_weight(w, group_name) for w in weight_names}) <= 1
            for weight_name in weight_names:
                layer_name = group_name if single else _layer_of_weight(weight_name, group_name)
                stored = layers.get(layer_name)
                if stored is None:
                    stored = layers[layer_name] = StoredLayer(layer_name, [], [], group.name)
                elif stored.group != group.name:
                    raise WeightFileError(
                        f"{path}: layer name {layer_name!r} holds weights in two groups "
                        f"({stored.group} and {group.name}); cannot map the file by name"
                    )
                if weight_name not in group:
                    raise WeightFileError(f"{path}: group {group.name} lists weight {weight_name!r} but lacks its dataset")
                stored.weight_names.append(weight_name)
                stored.arrays.append(np.asarray(group[weight_name]))
        return Keras2File(
            path=path,
            kind=kind,
            layers=layers,
            model_config=model_config,
            keras_version=_as_str(f.attrs["keras_version"]) if "keras_version" in f.attrs else None,
            backend=_as_str(f.attrs["backend"]) if "backend" in f.attrs else None,
            top_level_layer_names=top_names,
        )


def read_keras2_weights(path: str | Path) -> "OrderedDict[str, list[np.ndarray]]":
    """Layer name -> weights in stored order, for every weight-bearing layer of a Keras-2 HDF5 file."""
    return OrderedDict((name, layer.arrays) for name, layer in read_keras2_file(path).layers.items())


def weighted_layers(model) -> "OrderedDict[str, Any]":
    """Every layer of ``model`` that owns weights, nested models flattened, in model order.

    Raises ``ValueError`` when two such layers share a name (they could not be mapped by name).
    """
    import keras

    found: OrderedDict[str, Any] = OrderedDict()

    def visit(layer) -> None:
        if isinstance(layer, keras.Model):
            for sub in layer.layers:
                visit(sub)
        elif layer.weights:
            if layer.name in found:
                raise ValueError(f"model {model.name!r} has two weight-bearing layers named {layer.name!r}")
            found[layer.name] = layer

    visit(model)
    return found


def assign_weights(
    model_layers: Mapping[str, Any],
    stored: Mapping[str, list[np.ndarray]],
    name_map: Mapping[str, str] | None = None,
    *,
    source: str = "",
    strict: bool = True,
    ignore_stored: Iterable[str] = (),
) -> list[str]:
    """Copy stored weights into our layers by name, checking every count and shape first.

    Args:
        model_layers: our weight-bearing layers by name (see :func:`weighted_layers`).
        stored: the file's weights by layer name (see :func:`read_keras2_weights`).
        name_map: our layer name -> stored layer name, where they differ.
        source: the file, for error messages.
        strict: also fail when the file holds weight-bearing layers that the model lacks.
        ignore_stored: stored layer names that may go unused even when ``strict``.

    Returns:
        The names of our layers that received weights, in model order.

    Raises:
        WeightFileError: naming the first layer that differs (missing in the file, a different
        number of weights, or a different shape) and the file. Nothing is assigned in that case.
    """
    name_map = dict(name_map or {})
    where = f"{source}: " if source else ""
    plan = []
    used = set()
    for ours, layer in model_layers.items():
        theirs = name_map.get(ours, ours)
        expected = [tuple(w.shape) for w in layer.weights]
        if theirs not in stored:
            raise WeightFileError(
                f"{where}first layer that differs: {ours!r} (file name {theirs!r}) is missing from the file; "
                f"expected {len(expected)} weights with shapes {expected}"
            )
        arrays = stored[theirs]
        found = [tuple(a.shape) for a in arrays]
        if found != expected:
            raise WeightFileError(
                f"{where}first layer that differs: {ours!r} (file name {theirs!r}): expected weights with "
                f"shapes {expected}, found {found}"
            )
        plan.append((layer, arrays))
        used.add(theirs)
    if strict:
        extra = [name for name in stored if name not in used and name not in set(ignore_stored)]
        if extra:
            raise WeightFileError(
                f"{where}the file holds {len(extra)} weight-bearing layer(s) the model lacks, first {extra[0]!r} "
                f"(all: {extra[:10]}{' ...' if len(extra) > 10 else ''})"
            )
    for layer, arrays in plan:
        layer.set_weights(arrays)
    return [layer.name for layer, _ in plan]

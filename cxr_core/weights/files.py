"""Reading weight files without building a model from them: Keras-2 HDF5, Keras 3, PyTorch.

Keras-2 HDF5 (tf.keras 2.x, standalone Keras 2.3.1): CoroNet's ``4-class-Covid19-Mod-Xception.h5`` is
a full model whose Sequential holds a nested ``xception`` model [CN]; CVR-Net's
``Model_task_{t}_Fold_{f}.hdf5`` are weights-only files written by
``ModelCheckpoint(save_weights_only=True)`` [CVR-T]. Keras 3 cannot deserialize the former
(docs/VERIFIED.md §4: BatchNormalization ``axis`` lists, SeparableConv2D arguments, nested
``output_layers``), so no model is ever rebuilt from a file's config: the caller builds its own model
and copies weights by layer name (:mod:`cxr_core.weights.load`). Only ``h5py`` reads the file; nothing is
unpickled or evaluated.

Keras-2 layout (``hdf5_format``):
- weights-only: root attribute ``layer_names``; one group per top-level layer with attribute
  ``weight_names`` (``"block1_conv1/kernel:0"`` ...), datasets at those names inside the group;
- full model: the same under the group ``model_weights``, plus root attributes ``model_config``,
  ``keras_version`` and ``backend``, and optionally ``optimizer_weights`` (ignored).
A nested model appears as one group whose ``weight_names`` carry the inner layer names; they are
flattened to the inner layers, so a nested ``xception`` yields ``block1_conv1`` ...
``block14_sepconv2_bn``. A group with one layer's weights keeps the GROUP's name, which is the
layer's name at save time even when the layer was renamed after its variables were created (CVR-Net's
``res_``/``xce_`` prefixes: group ``res_conv1``, weights ``conv1/kernel:0`` [CVR-T]).

Keras 3 ``.weights.h5`` keys variables by object path, not by layer name: ``layers/dense/vars/0``,
``layers/functional/layers/separable_conv2d_7/vars/1`` (class names, numbered per model). Mapping such
a file by name needs a model of the same structure (:func:`cxr_core.weights.transfer.read_keras3_weights`);
:func:`describe_weight_file` lists its paths and shapes so that a file for another model can be named.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from cxr_core.errors import CxrError

#: Formats :func:`weight_file_format` tells apart.
FORMATS = ("keras2_full_model", "keras2_weights", "keras3_weights", "keras3_archive", "torch", "unknown")
_TORCH_SUFFIXES = (".pth", ".pt", ".pth.tar", ".tar", ".bin")


class WeightFileError(CxrError):
    """A weight file does not fit the model it is loaded into; the message says where and how."""


class MissingWeightError(WeightFileError, KeyError):
    """A weight file lacks (or has an unexpected) named tensor; also a ``KeyError``. ``str()`` is the
    message itself (``KeyError`` would quote it)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass
class StoredLayer:
    """The weights of one layer as a Keras-2 file stores them, in stored order."""

    name: str
    weight_names: list[str]
    arrays: list[np.ndarray]
    group: str  # HDF5 path of the group that holds them
    shapes: list[tuple[int, ...]] = field(default_factory=list)


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


def _keras2_root(f: h5py.File):
    return f["model_weights"] if "model_weights" in f else f


def open_hdf5(path: str | Path) -> h5py.File:
    """``h5py.File(path, "r")``; a file cut short says so: ``truncated (N of M bytes)``.

    Raises:
        WeightFileError: naming the file: truncated (the bytes present and the bytes its header
            announces), or not readable as HDF5 (h5py's reason).
    """
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        cut = re.search(r"truncated file: eof = (\d+).*stored_eof = (\d+)", str(exc))
        if cut:
            raise WeightFileError(f"{path}: truncated ({cut.group(1)} of {cut.group(2)} bytes): the download or "
                                  "copy stopped early; fetch the file again") from None
        raise WeightFileError(f"{path}: not a readable HDF5 file ({exc})") from None


def read_keras2_file(path: str | Path, *, load_arrays: bool = True) -> Keras2File:
    """Read every layer's weights from a Keras-2 HDF5 file (full model or weights-only).

    ``load_arrays=False`` reads names and shapes only (``StoredLayer.arrays`` stay empty).

    Raises:
        FileNotFoundError: no file at ``path``.
        WeightFileError: naming the file when it is not such a file, or when two weight-bearing
            layers share a name (the file could not then be mapped by name).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weight file not found: {path}")
    with open_hdf5(path) as f:
        root = _keras2_root(f)
        kind = "full_model" if "model_weights" in f else "weights_only"
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
            # One layer's weights: the group's name, whatever its variables are called (layers renamed
            # after building [CVR-T]). Several layers' weights: a nested model, flattened.
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
                stored.shapes.append(tuple(group[weight_name].shape))
                if load_arrays:
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


def weight_file_format(path: str | Path) -> str:
    """One of :data:`FORMATS`, from the file's content (HDF5 layout, zip members) and, for PyTorch's
    legacy pickle format only, its suffix. Nothing is unpickled."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weight file not found: {path}")
    if h5py.is_hdf5(path):
        with open_hdf5(path) as f:  # a truncated file: WeightFileError saying so
            if "model_weights" in f and "layer_names" in f["model_weights"].attrs:
                return "keras2_full_model"
            if "layer_names" in f.attrs:
                return "keras2_weights"
            if "layers" in f or "vars" in f:
                return "keras3_weights"
        return "unknown"
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
        if "model.weights.h5" in names and "config.json" in names:
            return "keras3_archive"
        if any(n.endswith("data.pkl") for n in names):
            return "torch"
        return "unknown"
    return "torch" if path.name.endswith(_TORCH_SUFFIXES) else "unknown"


@dataclass(frozen=True)
class WeightFileSummary:
    """What a weight file holds, enough to tell which model it was saved from.

    Attributes:
        path: the file.
        format: one of :data:`FORMATS`.
        layers: layer key -> shapes of its weights, in stored order. Keras-2 files: the layer names
            (nested models flattened, as :func:`read_keras2_file`). Keras 3 files: the object path
            without the ``layers/`` and ``vars`` components (``dense_1``,
            ``functional/separable_conv2d_7``), which carry class names, not layer names. PyTorch
            and unknown files: empty (a PyTorch file is not unpickled to list its keys).
        top_level: Keras-2: the root's ``layer_names``; Keras 3: the first path components.
    """

    path: Path
    format: str
    layers: "OrderedDict[str, list[tuple[int, ...]]]"
    top_level: tuple[str, ...] = ()

    def names(self) -> list[str]:
        """The last component of every layer key (``functional/dense`` -> ``dense``)."""
        return [key.rsplit("/", 1)[-1] for key in self.layers]


def _keras3_layers(root: h5py.Group) -> "OrderedDict[str, list[tuple[int, ...]]]":
    found: OrderedDict[str, list[tuple[int, ...]]] = OrderedDict()

    def visit(name: str, obj) -> None:
        parts = name.split("/")
        if isinstance(obj, h5py.Group) and parts[-1] == "vars" and len(obj) and parts[0] != "optimizer":
            key = "/".join(p for p in parts[:-1] if p != "layers")
            found[key] = [tuple(obj[str(i)].shape) for i in range(len(obj)) if str(i) in obj]

    root.visititems(visit)
    return found


def describe_weight_file(path: str | Path) -> WeightFileSummary:
    """A :class:`WeightFileSummary` of ``path`` (h5py and zipfile only; nothing is unpickled).

    Raises ``FileNotFoundError`` when there is no file; an unreadable file gives format ``unknown``.
    """
    path = Path(path)
    kind = weight_file_format(path)
    layers: OrderedDict[str, list[tuple[int, ...]]] = OrderedDict()
    top: tuple[str, ...] = ()
    if kind in ("keras2_full_model", "keras2_weights"):
        stored = read_keras2_file(path, load_arrays=False)
        layers = OrderedDict((n, list(layer.shapes)) for n, layer in stored.layers.items())
        top = tuple(stored.top_level_layer_names)
    elif kind == "keras3_weights":
        with open_hdf5(path) as f:
            layers = _keras3_layers(f)
    elif kind == "keras3_archive":
        with zipfile.ZipFile(path) as z, h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
            layers = _keras3_layers(f)
    if kind.startswith("keras3"):
        top = tuple(dict.fromkeys(key.split("/", 1)[0] for key in layers))
    return WeightFileSummary(path=path, format=kind, layers=layers, top_level=top)

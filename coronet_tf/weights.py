"""Loading the CoroNet authors' released Keras-2 HDF5 files into our Keras 3 model.

The authors' notebook saves the final model with ``model.save('4-class-Covid19-Mod-Xception.h5')``
and loads it back with ``load_model`` [CN]: a full tf.keras (TF 2.x) HDF5 model, a Sequential holding
the nested ``xception`` model, then ``flatten``, ``dropout``, ``dense``, ``dense_1``, plus the Adam
state (docs/PAPERS.md §1.6). Whether the file itself is still downloadable is unknown [CN].

``keras.models.load_model`` fails on such files in Keras 3 (docs/VERIFIED.md §4), and we never rebuild a model
from a file's config: we build :func:`coronet_tf.build_coronet` and copy weights by layer name with
:func:`cxr_core.weights.transfer.copy_weights` (h5py only; nothing is unpickled or evaluated). Optimizer weights in the file
are ignored. Weights-only files (``save_weights('w.h5')``) load too.

Layer names: tf.keras numbers unnamed layers with a per-session counter, so a file saved after the
notebook's model cell ran twice names its head ``dense_2``/``dense_3`` and Xception's residual layers
``conv2d_4``... We map our ``conv2d*``, ``batch_normalization*`` and ``dense*`` layers onto the file's
layers of the same prefix in numbering order when the file lacks our exact names and the counts agree;
every other layer must have the same name. Any layer that does not fit fails with
:class:`cxr_core.weights.files.WeightFileError` naming the first layer that differs.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import h5py
import keras

from cxr_core.weights.files import Keras2File, WeightFileError, WeightFileSummary, read_keras2_file
from cxr_core.weights.transfer import (
    TransferReport,
    copy_weights,
    numbered_members,
    renumber_map,
    weighted_layers,
)
from cxr_core.weights.load import load_keras_weights

from .model import MIN_INPUT_SIDE, build_coronet, xception_output_side

#: Layer-name prefixes that tf.keras / Keras number automatically in CoroNet.
AUTO_NUMBERED_PREFIXES = ("conv2d", "batch_normalization", "dense")
#: Xception's feature channels; the head's first Dense kernel has side*side*2048 rows.
XCEPTION_CHANNELS = 2048
#: Input sides tried first when a weights-only file gives no input size: the code's and the paper's [CN], [S4].
PREFERRED_SIDES = (150, 224)
_SHAPE_KEYS = ("batch_input_shape", "batch_shape", "build_input_shape")


def _find_input_shape(config: Any) -> tuple[int, int, int] | None:
    """The first input shape in a Keras model config (depth first), without the batch axis."""
    if isinstance(config, Mapping):
        for key in _SHAPE_KEYS:
            shape = config.get(key)
            if isinstance(shape, (list, tuple)) and len(shape) == 4 and all(isinstance(v, int) for v in shape[1:]):
                return tuple(int(v) for v in shape[1:])  # type: ignore[return-value]
        for value in config.values():
            found = _find_input_shape(value)
            if found:
                return found
    elif isinstance(config, (list, tuple)):
        for value in config:
            found = _find_input_shape(value)
            if found:
                return found
    return None


def _head_kernels(stored: Keras2File) -> list[tuple[str, tuple[int, ...]]]:
    return [(name, tuple(layer.arrays[0].shape)) for name, layer in stored.layers.items()
            if layer.arrays and layer.arrays[0].ndim == 2]


def infer_file_architecture(
    stored: Keras2File, input_shape: Sequence[int] | None = None
) -> tuple[int, tuple[int, int, int]]:
    """``(num_classes, input_shape)`` of the CoroNet a Keras-2 file was saved from.

    Classes come from the last Dense kernel; the input size from ``input_shape`` when given, else from
    the file's ``model_config``, else (weights-only files) from the first Dense kernel's rows
    (side*side*2048 for a square input): 150 or 224 when they give that side, otherwise the smallest
    input that does.
    """
    kernels = _head_kernels(stored)
    if len(kernels) < 2:
        raise WeightFileError(
            f"{stored.path}: expected CoroNet's two Dense layers (256 units, then the classes) in the file; "
            f"found 2-D kernels {kernels or 'none'}"
        )
    num_classes = int(kernels[-1][1][1])
    rows = int(kernels[-2][1][0])
    if input_shape is None and stored.model_config is not None:
        input_shape = _find_input_shape(stored.model_config)
    if input_shape is None:
        side = math.isqrt(rows // XCEPTION_CHANNELS) if rows % XCEPTION_CHANNELS == 0 else 0
        if side < 1 or side * side * XCEPTION_CHANNELS != rows:
            raise WeightFileError(
                f"{stored.path}: cannot infer the input size: {kernels[-2][0]!r} has {rows} input rows, not "
                f"side*side*{XCEPTION_CHANNELS} for a square input; pass input_shape"
            )
        candidates = [s for s in PREFERRED_SIDES if xception_output_side(s) == side]
        candidates += [s for s in range(MIN_INPUT_SIDE, 4096) if xception_output_side(s) == side][:1]
        if not candidates:
            raise WeightFileError(
                f"{stored.path}: no input size gives a {side}x{side} Xception output; pass input_shape"
            )
        input_shape = (candidates[0], candidates[0], 3)
    return num_classes, tuple(int(v) for v in input_shape)  # type: ignore[return-value]


def _copy_from_file(model: keras.Model, stored: Keras2File, *, skip: Sequence[str] = ()) -> TransferReport:
    arrays = {name: layer.arrays for name, layer in stored.layers.items()}
    mapping = renumber_map(weighted_layers(model), arrays, AUTO_NUMBERED_PREFIXES)
    return copy_weights(model, arrays, name_map=mapping, skip=skip, source_name=str(stored.path))


def load_released_weights(
    path: str | os.PathLike,
    model: keras.Model | None = None,
    *,
    input_shape: Sequence[int] | None = None,
) -> keras.Model:
    """Load the authors' Keras-2 HDF5 file (full model or weights-only) into a CoroNet.

    Args:
        path: e.g. ``4-class-Covid19-Mod-Xception.h5`` [CN] (``model.save``) or a ``save_weights`` file.
        model: a model from :func:`coronet_tf.build_coronet`; when ``None``, one is built with the
            file's classes (last Dense kernel) and input size (see :func:`infer_file_architecture`;
            ``input_shape`` overrides it). Backbone weights are not downloaded.
        input_shape: the input size to build when ``model`` is ``None``.

    Returns:
        The model holding the file's weights (uncompiled when built here; the file's optimizer state is
        ignored).

    Raises:
        FileNotFoundError: no file at ``path``.
        WeightFileError: not a Keras-2 HDF5 file, or a layer does not fit; the message names the file
            and the first layer that differs, with expected and found shapes.
    """
    stored = read_keras2_file(path)
    if model is None:
        num_classes, shape = infer_file_architecture(stored, input_shape)
        model = build_coronet(num_classes=num_classes, input_shape=shape, backbone_weights=None)
    _copy_from_file(model, stored)
    return model


def load_weights(model: keras.Model, path: str | os.PathLike) -> keras.Model:
    """``FAMILY.weights.load``: the authors' Keras-2 HDF5 into ``model`` (see :func:`load_released_weights`)."""
    return load_released_weights(path, model)


def _keras3_head_classes(path: Path, head: str) -> int | None:
    with h5py.File(path, "r") as f:
        key = f"layers/{head}/vars/0"
        return int(f[key].shape[1]) if key in f else None


def load_finetune_weights(model: keras.Model, path: str | os.PathLike, *, head: str = "dense_1") -> keras.Model:
    """Start ``model`` from another CoroNet's weights, all but the softmax layer ``head`` (``model.init_from``).

    The paper derives its 3-class and binary models from the 4-class model by "slight modification"
    and fine-tuning [S4]; the new softmax layer keeps its fresh initialisation. ``path`` is a Keras-2
    HDF5 file (the authors' or tf.keras) or a Keras 3 ``.weights.h5`` / ``.keras`` file of a CoroNet
    with the same input size. Every layer other than ``head`` must fit (errors as in
    :func:`load_released_weights`).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"init_from: no weights file at {path}")
    if path.name.endswith(".keras"):
        source = keras.saving.load_model(path, compile=False, safe_mode=True)
    elif path.name.endswith(".weights.h5"):
        classes = _keras3_head_classes(path, head)
        if classes is None:
            raise WeightFileError(f"{path}: no dataset layers/{head}/vars/0; expected a CoroNet .weights.h5")
        source = load_keras_weights(build_coronet(num_classes=classes, input_shape=tuple(model.input_shape[1:])), path)
    else:
        _copy_from_file(model, read_keras2_file(path), skip=(head,))
        return model
    copy_weights(model, source, skip=(head,), source_name=str(path))
    return model


def recognise_weights(summary: WeightFileSummary) -> bool:
    """Whether a weight file looks like a CoroNet's (``FAMILY.weights.recognise``).

    Keras-2: the authors' Sequential holds the nested ``xception`` model (``block14_sepconv2``
    inside) [CN]. Keras 3: a nested model holding separable convolutions, then two Dense layers.
    """
    if summary.format.startswith("keras2"):
        return "xception" in summary.top_level and "block14_sepconv2" in summary.layers
    if summary.format.startswith("keras3"):
        nested = any("/" in key and key.rsplit("/", 1)[-1].startswith("separable_conv2d") for key in summary.layers)
        return nested and len(numbered_members(summary.top_level, "dense")) == 2
    return False

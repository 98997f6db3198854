"""CoroNet: Xception backbone + dropout + two fully-connected layers (Khan, Shah, Bhat 2020).

Architecture as in Table II of the paper [S4] and the authors' notebook [CN]::

    conv_base = tf.keras.applications.Xception(weights='imagenet', include_top=False,
                                               input_shape=(150, 150, 3))
    model = Sequential([conv_base, Flatten(), Dropout(0.5),
                        Dense(256, activation='relu'), Dense(4, activation='softmax')])

Layer names ``xception`` (nested model), ``flatten``, ``dropout``, ``dense``, ``dense_1`` [S4 Table II],
[CN]. Parameter counts (Table II [S4]; docs/VERIFIED.md §2): 150x150x3 and 4 classes give 33,969,964 total,
33,915,436 trainable, 54,528 non-trainable; 224x224x3 (the paper's text) gives 46,552,876.

Sequential versus functional: we build a ``keras.Sequential`` whose first layer is the nested
Xception model named ``xception``, exactly like the authors' model [CN]. ``model.layers`` is then
``[xception, flatten, dropout, dense, dense_1]`` as in their file's ``layer_names``, and
``model.weights`` has the same order as theirs, so both name-based loading
(:func:`coronet_tf.load_released_weights`) and Keras' order-based ``model.load_weights(h5)`` fit.
Keras 3 turns a Sequential with an ``Input`` into a functional graph, so ``model.inputs`` /
``model.outputs`` exist for Grad-CAM (the last convolutional activation is
``model.get_layer("xception").get_layer("block14_sepconv2_act")``).

Deviations:
- Keras 3 numbers auto-named layers with a per-process counter, so the second Xception built in a
  process would have ``conv2d_4`` ... ``batch_normalization_7`` for its four unnamed residual
  convolutions and batch normalisations. We rename them to ``conv2d`` ... ``conv2d_3`` and
  ``batch_normalization`` ... ``batch_normalization_3``, the names tf.keras gives in a fresh session
  (the authors' Colab), likewise ``add`` ... ``add_11``, and its input layer to ``input_1``, so
  layer names never depend on what was built before. Variable paths keep Keras' numbering (cosmetic only).
- The softmax layer computes in float32 (``dtype="float32"``) so that a mixed-precision policy keeps
  the probabilities in float32; with the default float32 policy this changes nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import keras

from cxr_core.weights.transfer import numbered_members
from cxr_core.errors import CxrError

#: Xception's smallest accepted input side (keras.applications).
MIN_INPUT_SIDE = 71
#: Unnamed Xception layers (residual 1x1 convolutions, their batch norms, the additions), by prefix.
_AUTO_NAMED_PREFIXES = ("conv2d", "batch_normalization", "add")


def canonicalize_auto_names(model: keras.Model, prefixes: Sequence[str] = _AUTO_NAMED_PREFIXES) -> None:
    """Rename auto-numbered layers of ``model`` to ``prefix``, ``prefix_1``, ... in build order.

    Keras numbers unnamed layers with a process-wide counter; this makes the names of a freshly built
    Xception equal to those of tf.keras in a fresh session (see the module docstring).
    """
    by_name = {layer.name: layer for layer in model.layers}
    for prefix in prefixes:
        for i, name in enumerate(numbered_members(by_name, prefix)):
            by_name[name].name = prefix if i == 0 else f"{prefix}_{i}"
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            layer.name = "input_1"


def xception_output_side(side: int) -> int:
    """Spatial side of Xception's last feature map for an input side (150 -> 5, 224 -> 7, 71 -> 3)."""
    side = (side - 3) // 2 + 1  # block1_conv1, 3x3 stride 2, valid
    side = side - 2  # block1_conv2, 3x3 valid
    for _ in range(4):  # block2/3/4/13 pools, 3x3 stride 2, same
        side = -(-side // 2)
    return side


def _check_input_shape(input_shape: Sequence[int]) -> tuple[int, int, int]:
    shape = tuple(int(v) for v in input_shape)
    if len(shape) != 3 or shape[2] != 3 or min(shape[:2]) < MIN_INPUT_SIDE:
        raise CxrError(
            f"CoroNet input_shape must be (height, width, 3) with height and width >= {MIN_INPUT_SIDE} "
            f"(Xception's minimum); got {tuple(input_shape)}"
        )
    return shape


def _backbone_weights_argument(backbone_weights: str | os.PathLike | None) -> str | None:
    if backbone_weights is None or backbone_weights == "imagenet":
        return backbone_weights
    path = Path(backbone_weights)
    if not path.is_file():
        raise FileNotFoundError(
            f"backbone_weights: expected None, 'imagenet' or the path of an Xception notop weights file; "
            f"no file at {path}"
        )
    return str(path)


def build_xception(
    input_shape: Sequence[int] = (150, 150, 3),
    backbone_weights: str | os.PathLike | None = None,
    name: str = "xception",
) -> keras.Model:
    """Keras' Xception without its top, named ``name``, auto-named layers canonicalised.

    ``backbone_weights``: ``None`` (random), ``"imagenet"`` (Keras downloads the notop file; needs a
    network) or the path of an Xception notop weights file (e.g.
    ``xception_weights_tf_dim_ordering_tf_kernels_notop.h5``), loaded by Keras.
    """
    shape = _check_input_shape(input_shape)
    base = keras.applications.Xception(
        include_top=False,
        weights=_backbone_weights_argument(backbone_weights),
        input_shape=shape,
        name=name,
    )
    canonicalize_auto_names(base)
    return base


def build_coronet(
    num_classes: int = 4,
    input_shape: Sequence[int] = (150, 150, 3),
    backbone_weights: str | os.PathLike | None = None,
    *,
    dropout_rate: float = 0.5,
    dense_units: int = 256,
    name: str = "sequential",
) -> keras.Model:
    """Build CoroNet [S4 Table II], [CN]: Xception -> Flatten -> Dropout(0.5) -> Dense(256, relu) -> softmax.

    Args:
        num_classes: output classes: 4 (COVID-19, normal, bacterial, viral pneumonia), 3 or 2 [S4].
        input_shape: (height, width, 3). The authors' code and Table II use 150x150 [CN], [S4];
            the paper's text says images were resized to 224x224 [S4] (see the presets).
        backbone_weights: ``None``, ``"imagenet"`` (as the authors [CN]; needs a network) or the path
            of an Xception notop weights file.
        dropout_rate, dense_units: the head, 0.5 and 256 as published [S4], [CN].
        name: the model's name; ``"sequential"`` as in the authors' tf.keras model.

    Returns:
        An uncompiled ``keras.Sequential`` with layers ``xception``, ``flatten``, ``dropout``,
        ``dense``, ``dense_1``; the whole model is trainable (``conv_base.trainable = True`` [CN]).
    """
    if int(num_classes) < 2:
        raise CxrError(f"model.num_classes: CoroNet needs at least 2 classes; found {num_classes}")
    shape = _check_input_shape(input_shape)
    base = build_xception(shape, backbone_weights, name="xception")
    base.trainable = True
    return keras.Sequential(
        [
            keras.Input(shape=shape, name="xception_input"),
            base,
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dropout(dropout_rate, name="dropout"),
            keras.layers.Dense(dense_units, activation="relu", name="dense"),
            keras.layers.Dense(int(num_classes), activation="softmax", dtype="float32", name="dense_1"),
        ],
        name=name,
    )

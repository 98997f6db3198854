"""CoroNet (Khan, Shah, Bhat 2020) in Keras 3: Xception + dropout + two dense layers [S4], [CN].

Public API: :func:`build_coronet`, the presets ``paper`` / ``authors_code`` (:data:`PRESETS`,
:func:`preset_for`, :func:`class_names_for`, :func:`label_map_for`), :func:`load_released_weights`
for the authors' Keras-2 HDF5 model, and :data:`FAMILY` for the ``covid_cxr.models`` registry.
"""

from __future__ import annotations

from cxr_core.registry import ModelFamily

from .model import build_coronet, build_xception, xception_output_side
from .presets import (
    AUTHORS_CODE,
    CLASS_NAMES,
    PAPER,
    PRESETS,
    PUBLISHED_PARAMS,
    TABLE_I_COUNTS,
    class_names_for,
    label_map_for,
    preset_for,
)
from .weights import infer_file_architecture, load_finetune_weights, load_released_weights, load_weights

#: Grad-CAM target: the last convolutional activation, inside the nested ``xception`` model.
LAST_CONV_LAYER = "block14_sepconv2_act"

FAMILY = ModelFamily(
    name="coronet",
    build=build_coronet,
    presets=PRESETS,
    load_weights=load_weights,
    last_conv_layer=LAST_CONV_LAYER,
    init_weights=load_finetune_weights,
    description="CoroNet: Xception (ImageNet) + Flatten + Dropout(0.5) + Dense(256) + softmax [S4], [CN]",
)

__all__ = [
    "AUTHORS_CODE",
    "CLASS_NAMES",
    "FAMILY",
    "LAST_CONV_LAYER",
    "PAPER",
    "PRESETS",
    "PUBLISHED_PARAMS",
    "TABLE_I_COUNTS",
    "build_coronet",
    "build_xception",
    "class_names_for",
    "infer_file_architecture",
    "label_map_for",
    "load_finetune_weights",
    "load_released_weights",
    "load_weights",
    "preset_for",
    "xception_output_side",
]

"""CoroNet (Khan, Shah, Bhat 2020) in Keras 3: Xception + dropout + two dense layers [S4], [CN].

Public API: :func:`build_coronet`, the presets ``paper`` / ``authors_code`` (:data:`PRESETS`,
:func:`preset_for`, :func:`class_names_for`, :func:`label_map_for`), :func:`load_released_weights`
for the authors' Keras-2 HDF5 model, and :data:`FAMILY` for the ``covid_cxr.models`` registry.
"""

from __future__ import annotations

from cxr_core.family import ModelFamily

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
from .published import TABLES as PUBLISHED_TABLES
from .report import REPORT_LAYOUTS
from .weights import (
    infer_file_architecture,
    load_finetune_weights,
    load_released_weights,
    load_weights,
    recognise_weights,
)
from .recipes import RECIPES

#: Label spellings of the same class (normalised: lower case, letters and digits only): the
#: published tables' "COVID-19" / "Pneumonia bacterial" and the authors' ``pneumonia_bac`` folders [S4], [CN].
CLASS_ALIASES = {"covid19": "covid", "pneumoniabac": "pneumoniabacterial", "pneumoniavir": "pneumoniaviral"}

#: Grad-CAM target: the last convolutional activation, inside the nested ``xception`` model.
LAST_CONV_LAYER = "block14_sepconv2_act"


FAMILY = ModelFamily(
    name="coronet",
    build=build_coronet,
    presets=PRESETS,
    load_weights=load_weights,
    last_conv_layer=LAST_CONV_LAYER,
    init_weights=load_finetune_weights,
    published=PUBLISHED_TABLES,
    report_layouts=REPORT_LAYOUTS,
    class_aliases=CLASS_ALIASES,
    class_names={"4-class": CLASS_NAMES[4], "3-class": CLASS_NAMES[3], "binary": CLASS_NAMES[2]},
    smoke_image_size=71,  # Xception's smallest input
    recipes=RECIPES,  # covid-cxr data build coronet | coronet-3class | coronet-binary
    recognise_weights=recognise_weights,
    description="CoroNet: Xception (ImageNet) + Flatten + Dropout(0.5) + Dense(256) + softmax [S4], [CN]",
)

__all__ = [
    "AUTHORS_CODE",
    "CLASS_ALIASES",
    "CLASS_NAMES",
    "FAMILY",
    "LAST_CONV_LAYER",
    "PAPER",
    "PRESETS",
    "PUBLISHED_PARAMS",
    "PUBLISHED_TABLES",
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

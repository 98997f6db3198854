"""CoroNet's :class:`cxr_core.family.ModelFamily` (entry point ``coronet = coronet_tf.family:FAMILY``).

Light: the builder and the weight hooks are :class:`cxr_core.family.Lazy` references, so the registry,
the published tables, presets and recipes load without TensorFlow.
"""

from __future__ import annotations

from pathlib import Path

from cxr_core.family import DataPart, ModelFamily, ModelPart, PublishedPart, WeightsPart, lazy

from .presets import PRESETS
from .published import TABLES
from .recipes import RECIPES
from .report import REPORT_LAYOUTS

#: Label spellings of the same class (normalised: lower case, letters and digits only): the
#: published tables' "COVID-19" / "Pneumonia bacterial" and the authors' ``pneumonia_bac`` folders [S4], [CN].
CLASS_ALIASES = {"covid19": "covid", "pneumoniabac": "pneumoniabacterial", "pneumoniavir": "pneumoniaviral"}

#: Grad-CAM target: the last convolutional activation, inside the nested ``xception`` model.
LAST_CONV_LAYER = "block14_sepconv2_act"

FAMILY = ModelFamily(
    name="coronet",
    description="CoroNet: Xception (ImageNet) + Flatten + Dropout(0.5) + Dense(256) + softmax [S4], [CN]",
    presets=PRESETS,
    experiments={"demo": Path(__file__).with_name("demo.yaml")},  # covid-cxr demo (synthetic task)
    model=ModelPart(
        build=lazy("coronet_tf.model:build_coronet"),
        last_conv_layer=LAST_CONV_LAYER,
        smoke_image_size=71,  # Xception's smallest input
    ),
    weights=WeightsPart(
        load=lazy("coronet_tf.weights:load_weights"),
        init=lazy("coronet_tf.weights:load_finetune_weights"),
        recognise=lazy("coronet_tf.weights:recognise_weights"),
    ),
    data=DataPart(recipes=RECIPES),  # covid-cxr data build coronet | coronet-3class | coronet-binary
    published=PublishedPart(tables=TABLES, report_layouts=REPORT_LAYOUTS, class_aliases=CLASS_ALIASES),
)

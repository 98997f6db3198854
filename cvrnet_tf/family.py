"""CVR-Net's :class:`cxr_core.family.ModelFamily` (entry point ``cvrnet = cvrnet_tf.family:FAMILY``).

Light: the builder and the weight hooks are :class:`cxr_core.family.Lazy` references, so the registry,
the published tables, presets, readers and recipes load without TensorFlow.
"""

from __future__ import annotations

from cxr_core.family import DataPart, ModelFamily, ModelPart, PublishedPart, WeightsPart, lazy

from .layer_names import RESNET_FLAVOURS, tap_layer_names
from .presets import PRESETS
from .published import TABLES
from .readers import READERS
from .recipes import RECIPES
from .report import PUBLISHED_ALIASES, REPORT_LAYOUTS
from .settings import CvrNetSettings

#: Grad-CAM target: ``concatenate_1``, the 7x7x4096 concatenation of both encoders' last feature maps
#: (ResNet50 ``res_activation_49`` / ``res_conv5_block3_out`` with Xception ``block14_sepconv2_act``).
#: It is the deepest spatial layer, it holds both encoders, and its name is the same for both ResNet50
#: flavours. Its gradient reaches the output through branch 1 only (one fifth of the average); the
#: other branches tap earlier, finer layers (see :func:`cvrnet_tf.layer_names.tap_layer_names`).
LAST_CONV_LAYER = "concatenate_1"

#: Label spellings of the same class (normalised): NCP = COVID-19, NOR = normal [CVR-T].
CLASS_ALIASES = {"covid19": "covid", "ncp": "covid", "nor": "normal"}


def _branch_titles() -> dict[str, str]:
    """Tapped layer -> branch title for Grad-CAM panels, both ResNet50 flavours (docs/PAPERS.md §2.1)."""
    names = {"1": "branch 1: ResNet50 + Xception outputs concatenated", "2": "branch 2: ResNet50 stage 4",
             "3": "branch 3: ResNet50 stage 3", "4": "branch 4: Xception block 4",
             "5": "branch 5: Xception block 13"}
    return {layer: names[k] for flavour in RESNET_FLAVOURS for k, layer in tap_layer_names(flavour).items()}


#: Grad-CAM panel titles of the five branches [CVR-T] (docs/PAPERS.md §2.1), by tapped layer.
BRANCH_TITLES = _branch_titles()

FAMILY = ModelFamily(
    name="cvrnet",
    description="CVR-Net: ResNet50 + Xception multi-scale multi-encoder ensemble of five branches [CVR-T], [S2]",
    presets=PRESETS,
    extra_schema=CvrNetSettings,  # extra.cvrnet (the task), checked when a config is loaded
    model=ModelPart(
        build=lazy("cvrnet_tf.model:build_cvrnet"),
        last_conv_layer=LAST_CONV_LAYER,
        explain_branches=BRANCH_TITLES,  # one Grad-CAM panel per branch of the Average, named [CVR-T]
        smoke_image_size=96,
    ),
    weights=WeightsPart(load=lazy("cvrnet_tf.weights:load_weights"),
                        recognise=lazy("cvrnet_tf.weights:recognise_weights")),
    data=DataPart(readers=READERS, recipes=RECIPES),  # covid-cxr data build cvrnet-dataset1 | cvrnet-dataset3
    published=PublishedPart(tables=TABLES, aliases=PUBLISHED_ALIASES, report_layouts=REPORT_LAYOUTS,
                            class_aliases=CLASS_ALIASES),
)

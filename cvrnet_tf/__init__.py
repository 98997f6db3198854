"""CVR-Net (Hasan & Alam 2020, arXiv 2007.11993) in Keras 3: ResNet50 + Xception, five branches [CVR-T], [S2].

Public API: :func:`build_cvrnet` (legacy or Keras 3 ResNet50; input scaling inside the model),
:func:`load_released_weights` for the authors' Keras-2 ``Model_task_{t}_Fold_{f}.hdf5`` files,
the presets ``authors_code`` / ``paper`` / ``leak_free`` (:data:`PRESETS`, :func:`preset_for_task`), the five tasks
(:mod:`cvrnet_tf.tasks`), and :data:`FAMILY` for the ``covid_cxr.models`` registry.
"""

from __future__ import annotations

from cxr_core.family import ModelFamily

from .backbone import load_backbone_weights
from .layer_names import RESNET_FLAVOURS, resnet_name_map
from .model import INPUT_SCALINGS, CaffePreprocess, build_cvrnet, tap_layer_names
from .presets import AUTHORS_CODE, LEAK_FREE, PAPER, PRESETS, PUBLISHED_PARAMS, preset_for_task
from .tasks import (
    MINI_CLASS_MAP,
    NOTEBOOK_TASK1_FOLD2,
    TASKS,
    Task,
    get_task,
    kermany_kind,
    read_kermany,
    read_mini_for_task,
    read_task_folders,
)
from .published import TABLES as PUBLISHED_TABLES
from .readers import READERS, read_kermany_folder
from .report import PUBLISHED_ALIASES, REPORT_LAYOUTS
from .weights import (
    infer_num_classes,
    load_released_weights,
    load_weights_into,
    released_name_map,
    recognise_weights,
)
from .recipes import RECIPES

#: Grad-CAM target: ``concatenate_1``, the 7x7x4096 concatenation of both encoders' last feature maps
#: (ResNet50 ``res_activation_49`` / ``res_conv5_block3_out`` with Xception ``block14_sepconv2_act``).
#: It is the deepest spatial layer, it holds both encoders, and its name is the same for both ResNet50
#: flavours. Its gradient reaches the output through branch 1 only (one fifth of the average); the
#: other branches tap earlier, finer layers (see :func:`tap_layer_names`) for per-branch maps.
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
    build=build_cvrnet,
    presets=PRESETS,
    load_weights=load_weights_into,
    last_conv_layer=LAST_CONV_LAYER,
    published=PUBLISHED_TABLES,
    published_aliases=PUBLISHED_ALIASES,
    report_layouts=REPORT_LAYOUTS,
    class_aliases=CLASS_ALIASES,
    class_names={task.name: task.class_names for task in TASKS.values()},
    smoke_image_size=96,
    readers=READERS,
    recipes=RECIPES,  # covid-cxr data build cvrnet-dataset1 | cvrnet-dataset3
    recognise_weights=recognise_weights,
    explain_branches=BRANCH_TITLES,  # one Grad-CAM panel per branch of the Average, named [CVR-T]
    description="CVR-Net: ResNet50 + Xception multi-scale multi-encoder ensemble of five branches [CVR-T], [S2]",
)

__all__ = [
    "AUTHORS_CODE",
    "CLASS_ALIASES",
    "CaffePreprocess",
    "FAMILY",
    "INPUT_SCALINGS",
    "LAST_CONV_LAYER",
    "MINI_CLASS_MAP",
    "NOTEBOOK_TASK1_FOLD2",
    "PAPER",
    "LEAK_FREE",
    "PRESETS",
    "PUBLISHED_PARAMS",
    "PUBLISHED_TABLES",
    "RESNET_FLAVOURS",
    "TASKS",
    "Task",
    "build_cvrnet",
    "get_task",
    "infer_num_classes",
    "kermany_kind",
    "load_backbone_weights",
    "load_released_weights",
    "load_weights_into",
    "preset_for_task",
    "read_kermany",
    "read_kermany_folder",
    "read_mini_for_task",
    "read_task_folders",
    "released_name_map",
    "resnet_name_map",
    "tap_layer_names",
]

"""CVR-Net (Hasan & Alam 2020, arXiv 2007.11993) in Keras 3: ResNet50 + Xception, five branches [CVR-T], [S2].

Public API: :func:`build_cvrnet` (legacy or Keras 3 ResNet50; input scaling inside the model),
:func:`load_released_weights` for the authors' Keras-2 ``Model_task_{t}_Fold_{f}.hdf5`` files,
the presets ``authors_code`` / ``paper`` / ``leak_free`` (:data:`PRESETS`, :func:`preset_for_task`), the five tasks
(:mod:`cvrnet_tf.tasks`), and :data:`FAMILY` for the ``covid_cxr.models`` registry.
"""

from __future__ import annotations

from cxr_core.registry import ModelFamily

from .model import INPUT_SCALINGS, RESNET_FLAVOURS, CaffePreprocess, build_cvrnet, resnet_name_map, tap_layer_names
from .presets import AUTHORS_CODE, LEAK_FREE, PAPER, PRESETS, PUBLISHED_PARAMS, preset_for_task
from .tasks import (
    MINI_CLASS_MAP,
    NOTEBOOK_TASK1_FOLD2,
    TASKS,
    Task,
    get_task,
    kermany_kind,
    kermany_patient,
    read_kermany,
    read_mini_for_task,
    read_task_folders,
)
from .weights import (
    infer_num_classes,
    load_backbone_weights,
    load_released_weights,
    load_weights_into,
    read_layer_groups,
    released_name_map,
)

#: Grad-CAM target: ``concatenate_1``, the 7x7x4096 concatenation of both encoders' last feature maps
#: (ResNet50 ``res_activation_49`` / ``res_conv5_block3_out`` with Xception ``block14_sepconv2_act``).
#: It is the deepest spatial layer, it holds both encoders, and its name is the same for both ResNet50
#: flavours. Its gradient reaches the output through branch 1 only (one fifth of the average); the
#: other branches tap earlier, finer layers (see :func:`tap_layer_names`) for per-branch maps.
LAST_CONV_LAYER = "concatenate_1"

FAMILY = ModelFamily(
    name="cvrnet",
    build=build_cvrnet,
    presets=PRESETS,
    load_weights=load_weights_into,
    last_conv_layer=LAST_CONV_LAYER,
    description="CVR-Net: ResNet50 + Xception multi-scale multi-encoder ensemble of five branches [CVR-T], [S2]",
)

__all__ = [
    "AUTHORS_CODE",
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
    "RESNET_FLAVOURS",
    "TASKS",
    "Task",
    "build_cvrnet",
    "get_task",
    "infer_num_classes",
    "kermany_kind",
    "kermany_patient",
    "load_backbone_weights",
    "load_released_weights",
    "load_weights_into",
    "preset_for_task",
    "read_kermany",
    "read_layer_groups",
    "read_mini_for_task",
    "read_task_folders",
    "released_name_map",
    "resnet_name_map",
    "tap_layer_names",
]

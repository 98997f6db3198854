"""CVR-Net (Hasan & Alam 2020, arXiv 2007.11993) in Keras 3: ResNet50 + Xception, five branches [CVR-T], [S2].

Public API: :func:`build_cvrnet` (legacy or Keras 3 ResNet50; input scaling inside the model),
:func:`load_released_weights` for the authors' Keras-2 ``Model_task_{t}_Fold_{f}.hdf5`` files,
the presets ``authors_code`` / ``paper`` / ``leak_free`` (:data:`PRESETS`, :func:`preset_for_task`), the five tasks
(:mod:`cvrnet_tf.tasks`), and :data:`FAMILY` (:mod:`cvrnet_tf.family`) for the ``covid_cxr.models``
registry. Each name is imported from its module on first use, so ``import cvrnet_tf`` and the family
record load without TensorFlow.
"""

from __future__ import annotations

from cxr_core.family import lazy_exports

#: public name -> the module that defines it (imported on first use: ``import <package>`` stays light).
_HOMES = {
    "load_backbone_weights": "cvrnet_tf.backbone",
    "RESNET_FLAVOURS": "cvrnet_tf.layer_names",
    "resnet_name_map": "cvrnet_tf.layer_names",
    "tap_layer_names": "cvrnet_tf.layer_names",
    "INPUT_SCALINGS": "cvrnet_tf.model",
    "CaffePreprocess": "cvrnet_tf.model",
    "build_cvrnet": "cvrnet_tf.model",
    "AUTHORS_CODE": "cvrnet_tf.presets",
    "LEAK_FREE": "cvrnet_tf.presets",
    "PAPER": "cvrnet_tf.presets",
    "PRESETS": "cvrnet_tf.presets",
    "PUBLISHED_PARAMS": "cvrnet_tf.presets",
    "preset_for_task": "cvrnet_tf.presets",
    "MINI_CLASS_MAP": "cvrnet_tf.tasks",
    "NOTEBOOK_TASK1_FOLD2": "cvrnet_tf.tasks",
    "TASKS": "cvrnet_tf.tasks",
    "Task": "cvrnet_tf.tasks",
    "get_task": "cvrnet_tf.tasks",
    "kermany_kind": "cvrnet_tf.tasks",
    "read_kermany": "cvrnet_tf.tasks",
    "read_mini_for_task": "cvrnet_tf.tasks",
    "read_task_folders": "cvrnet_tf.tasks",
    "TABLES": "cvrnet_tf.published",
    "READERS": "cvrnet_tf.readers",
    "read_kermany_folder": "cvrnet_tf.readers",
    "PUBLISHED_ALIASES": "cvrnet_tf.report",
    "REPORT_LAYOUTS": "cvrnet_tf.report",
    "CvrNetSettings": "cvrnet_tf.settings",
    "infer_num_classes": "cvrnet_tf.weights",
    "load_released_weights": "cvrnet_tf.weights",
    "load_weights": "cvrnet_tf.weights",
    "released_name_map": "cvrnet_tf.weights",
    "recognise_weights": "cvrnet_tf.weights",
    "RECIPES": "cvrnet_tf.recipes",
    "BRANCH_TITLES": "cvrnet_tf.family",
    "CLASS_ALIASES": "cvrnet_tf.family",
    "FAMILY": "cvrnet_tf.family",
    "LAST_CONV_LAYER": "cvrnet_tf.family",
}

__all__ = sorted(_HOMES)

__getattr__ = lazy_exports(__name__, _HOMES)  # each name imported from its module on first use

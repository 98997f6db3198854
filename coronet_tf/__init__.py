"""CoroNet (Khan, Shah, Bhat 2020) in Keras 3: Xception + dropout + two dense layers [S4], [CN].

Public API: :func:`build_coronet`, the presets ``paper`` / ``authors_code`` (:data:`PRESETS`,
:func:`preset_for`, :func:`class_names_for`, :func:`label_map_for`), :func:`load_released_weights`
for the authors' Keras-2 HDF5 model, and :data:`FAMILY` (:mod:`coronet_tf.family`) for the
``covid_cxr.models`` registry. Each name is imported from its module on first use, so ``import
coronet_tf`` and the family record load without TensorFlow.
"""

from __future__ import annotations

from cxr_core.family import lazy_exports

#: public name -> the module that defines it (imported on first use: ``import <package>`` stays light).
_HOMES = {
    "build_coronet": "coronet_tf.model",
    "build_xception": "coronet_tf.model",
    "xception_output_side": "coronet_tf.model",
    "AUTHORS_CODE": "coronet_tf.presets",
    "CLASS_NAMES": "coronet_tf.presets",
    "PAPER": "coronet_tf.presets",
    "PRESETS": "coronet_tf.presets",
    "PUBLISHED_PARAMS": "coronet_tf.presets",
    "TABLE_I_COUNTS": "coronet_tf.presets",
    "class_names_for": "coronet_tf.presets",
    "label_map_for": "coronet_tf.presets",
    "preset_for": "coronet_tf.presets",
    "TABLES": "coronet_tf.published",
    "REPORT_LAYOUTS": "coronet_tf.report",
    "infer_file_architecture": "coronet_tf.weights",
    "load_finetune_weights": "coronet_tf.weights",
    "load_released_weights": "coronet_tf.weights",
    "load_weights": "coronet_tf.weights",
    "recognise_weights": "coronet_tf.weights",
    "RECIPES": "coronet_tf.recipes",
    "CLASS_ALIASES": "coronet_tf.family",
    "FAMILY": "coronet_tf.family",
    "LAST_CONV_LAYER": "coronet_tf.family",
}

__all__ = sorted(_HOMES)

__getattr__ = lazy_exports(__name__, _HOMES)  # each name imported from its module on first use

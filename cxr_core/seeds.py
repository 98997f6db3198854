"""Every seed a run derives from its configured seeds, in one place.

A run has two configured seeds: ``train.seed`` (weights, data order, augmentation) and
``protocol.seed`` (which rows test and validate). Everything random in a fold is seeded from them
by the functions below, so a fold trained alone (``--folds``, another machine, a resumed run)
draws what it draws in a full run, and the same seeds give the same results.

========================  =====================================  ==========================================
what                      value                                  function (used by)
========================  =====================================  ==========================================
run start                 ``train.seed``                         (:func:`cxr_core.protocol.run.run_protocol`)
fold init (weights)       ``train.seed + fold``                  :func:`fold_seed` (``run_fold``, ``fit_fold``)
training data order       ``fold_seed + 7919 * first_epoch``     :func:`train_data_seed` (``fit_fold``)
validation data order     ``fold_seed + 1 + 7919 * first_epoch`` :func:`validation_data_seed` (``fit_fold``,
                                                                 Keras 2 iteration)
augmentation (per batch)  ``data_seed + 7919``                   :func:`augmentation_seed` (``build_dataset``)
inner validation split    ``protocol.seed + 1000 + fold``        :func:`inner_validation_seed` (split files)
========================  =====================================  ==========================================

``first_epoch`` is the epoch a (resumed) training session starts at, so a resumed run does not
replay epoch 0's order. ``data_seed`` is the seed :func:`cxr_core.data.pipeline.build_dataset` is
given (a training or validation data seed). 7919 (a prime) keeps the streams of neighbouring folds
and epochs apart; the offsets are historical and kept so that old runs reproduce.
"""

from __future__ import annotations

__all__ = [
    "EPOCH_STRIDE",
    "augmentation_seed",
    "fold_seed",
    "inner_validation_seed",
    "train_data_seed",
    "validation_data_seed",
]

#: Step between the data seeds of consecutive starting epochs, and the augmentation stream's offset.
EPOCH_STRIDE = 7919


def fold_seed(train_seed: int, fold: int) -> int:
    """Fold ``fold``'s seed: its initial weights (``keras.utils.set_random_seed``) and base of its data seeds."""
    return train_seed + fold


def train_data_seed(fold_seed: int, first_epoch: int = 0) -> int:
    """The training data's shuffle seed for a session starting at ``first_epoch``."""
    return fold_seed + EPOCH_STRIDE * first_epoch


def validation_data_seed(fold_seed: int, first_epoch: int = 0) -> int:
    """The validation data's seed (order where shuffled, augmentation where augmented)."""
    return fold_seed + 1 + EPOCH_STRIDE * first_epoch


def augmentation_seed(data_seed: int) -> int:
    """The seed of the per-batch augmentation parameters of a dataset built with ``data_seed``."""
    return data_seed + EPOCH_STRIDE


def inner_validation_seed(protocol_seed: int, fold: int) -> int:
    """The seed of fold ``fold``'s validation part (``protocol.validation: inner_split``)."""
    return protocol_seed + 1000 + fold

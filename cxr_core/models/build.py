"""Build a family's model for an experiment, initialise it, check its published parameter count.

The model step of the flow (docs/DESIGN.md §1): :func:`model_builder` returns a function building a fresh model
of the config's family (:mod:`cxr_core.family`) at the config's input size and class count, with
``model.backbone_weights`` and ``model.init_from``; :func:`init_from_weights` is the default
``init_from``; :func:`check_parameter_count` compares the built model with the counts the config
records (``extra.expected_params``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Mapping

from cxr_core.config.experiment import ExperimentConfig
from cxr_core.weights.load import init_from_file

if TYPE_CHECKING:
    from cxr_core.family import ModelFactory

log = logging.getLogger(__name__)


def model_builder(cfg: ExperimentConfig, num_classes: int) -> ModelFactory:
    """The factory of the experiment's model: ``build(options=None, bare=False) -> keras.Model``
    (:class:`cxr_core.family.ModelFactory`), input ``[N, H, W, 3]`` float32 at ``preprocess.image_size``.

    Args:
        cfg: the experiment (``model.family``, ``model.options``, ``model.backbone_weights``,
            ``model.init_from``, ``preprocess.image_size``).
        num_classes: output classes.

    The factory's ``options`` replace entries of ``model.options`` (a variant of the config's model,
    e.g. CORONA-Net's phase-1 model with its decoder); ``bare=True`` builds the architecture without
    ImageNet backbone and ``init_from``, for a model whose every weight is about to be loaded from a
    file: nothing is downloaded or read twice. ``build()`` is the config's model with its initial weights.
    """
    from cxr_core.family import get_family

    family = get_family(cfg.model.family)
    input_shape = (*tuple(cfg.preprocess.image_size), 3)

    def build(options: Mapping[str, Any] | None = None, bare: bool = False):
        merged = {**dict(cfg.model.options), **dict(options or {})}
        model = family.model.build(
            num_classes=num_classes,
            input_shape=input_shape,
            backbone_weights=None if bare else cfg.model.backbone_weights,
            **merged,
        )
        if cfg.model.init_from and not bare:
            (family.weights.init or init_from_weights)(model, cfg.model.init_from)
        return model

    return build


def check_parameter_count(cfg: ExperimentConfig, num_classes: int) -> None:
    """Build the model once and compare its total, trainable and non-trainable parameter counts with
    ``extra.expected_params`` (:mod:`cxr_core.config.param_counts`).

    The experiment YAMLs record the published counts (CoroNet Table II [S4], CVR-Net's summary
    [CVR-T]); a mismatch means the config does not describe the published model, and the run stops
    before training. Smoke runs (reduced input) skip the check.

    Raises:
        ValueError: a count differs, naming each differing count (found and expected), the input
        size and the class count.
    """
    from cxr_core.config.param_counts import compare_param_counts

    expected = (cfg.extra or {}).get("expected_params")
    if not expected:
        return
    model = model_builder(cfg, num_classes)(bare=True)
    compare_param_counts(model, expected, key="extra.expected_params", context=(
        f"of this config ({cfg.model.family}, input {tuple(cfg.preprocess.image_size)}, {num_classes} classes)"))


def init_from_weights(model, path: str) -> None:
    """Start from another model's weights file, every layer that fits by name (the default ``init_from``).

    CoroNet's paper builds its 3- and 2-class models by fine-tuning the 4-class model [S4]; families
    with their own loader set :attr:`cxr_core.family.WeightsPart.init`. See
    :func:`cxr_core.weights.load.init_from_file` (layers of another shape keep their fresh weights and are
    logged; a file filling fewer than half of the layers raises ``WeightFileError``).
    """
    init_from_file(model, path)

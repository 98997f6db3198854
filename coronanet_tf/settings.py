"""CORONA-Net's own experiment settings: the ``extra.coronanet`` section of an experiment config.

:class:`cxr_core.config.experiment.ExperimentConfig` keeps family-specific settings in its free ``extra``
mapping; this module declares ``extra.coronanet`` as frozen dataclasses whose annotations are the schema
(:mod:`cxr_core.config.schema`). The family hands :class:`CoronaNetSettings` to the core as its
``extra_schema``, so :func:`cxr_core.config.experiment.load_config` checks the section when the config is loaded
(unknown keys and wrong values named with the file, the key and the allowed values).

Everything the shared sections already say is NOT repeated here (one source of truth):

- phase 2's loss, epochs, batch, checkpoint selection: ``train.loss``
  (``categorical_crossentropy_from_logits``, torch ``CrossEntropyLoss`` on logits [CR]),
  ``train.epochs``, ``train.batch_size``, ``train.checkpoint`` / ``train.checkpoint_monitor``;
- the optimizer: ``train.optimizer`` (``adam_l2``: :class:`coronanet_tf.schedule.AdamL2`, options
  ``l2``, ``epsilon``), its unscaled base rate ``train.optimizer.learning_rate`` (``--lr 1e-4`` [CR]);
- whether the decoder is kept in phase 2: ``model.options.with_decoder`` (``true``: kept and ignored,
  as [CR]'s ``forward`` always computes it; ``false``: removed, as the paper says [S0, PG]).

YAML layout (values of the ``authors_code`` preset)::

    extra:
      coronanet:
        phases: [reinit, classify]      # or [classify]: skip the re-initialisation (ablation)
        reinit:
          epochs: null                  # null = train.epochs (see ReinitSettings)
          target: normalised_input
          train_classifier: true
          checkpoint: last              # last | best (lowest validation MSE)
        lr_schedule:                    # CoronaNetSchedule arguments, or null for a constant rate
          world_size: 1
          warmup_epochs: 5
          step_epochs: 30
          extra_drop_epoch: 80
          gamma: 0.1
          reference_batch: 256
        test_split: test_split_v2       # which COVIDx test list the experiment means (documentation)
        expected_params:                # [total, trainable, non_trainable] per model (docs/PAPERS.md §3.1)
          classification: [15030147, 15021699, 8448]
          with_decoder: [15058859, 15050059, 8800]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal, Mapping

from cxr_core.config.schema import (
    Choices, ConfigError, NonNegInt, PositiveInt, Range, build,
)
from cxr_core.config.param_counts import ParamCountSpec

PHASES = ("reinit", "classify")
TARGETS = ("normalised_input",)
TEST_SPLITS = ("test_split_v2", "test_split_v2_dedup", "test_COVIDx")

#: ``extra.coronanet`` errors are config errors (one error type for the whole config).
CoronaNetSettingsError = ConfigError


@dataclass(frozen=True)
class ReinitSettings:
    """Phase 1, re-initialisation [S0, PG]; details from the authors' ``--mdel-ae True`` run [CR].

    ``epochs``: NOT published anywhere (docs/PAPERS.md §3.7 item 3). ``null`` means ``train.epochs``:
    [CR] runs both phases with the same script and the same ``--epochs`` default (990), only
    ``--mdel-ae`` differs (INFERRED). With the authors' schedule the rate is below 5e-8 from epoch 60
    on, so about 60 to 90 epochs per phase do practically all the learning.
    ``target``: ``normalised_input``, the ImageNet-normalised image itself
    (``criterion(outputs, input)`` [CR]); the tanh decoder cannot reach values outside [-1, 1]
    while the target spans about [-2.1, 2.6] (INFERRED mismatch, kept).
    ``train_classifier``: ``true`` as [CR] (the decoder reads the 3 logits, so the MSE gradient
    reaches the MLP and the encoder through them); ``false`` freezes the MLP layers in phase 1.
    ``checkpoint``: which phase-1 weights start phase 2: ``last`` (default; [CR]'s phase-1 "best"
    is chosen on the top-1 accuracy of an untrained classifier, meaningless) or ``best`` (lowest
    validation MSE; needs validation data).
    """

    epochs: PositiveInt | None = None
    target: Literal["normalised_input"] = "normalised_input"
    train_classifier: bool = True
    checkpoint: Literal["last", "best"] = "last"


@dataclass(frozen=True)
class ScheduleSettings:
    """Arguments of :class:`coronanet_tf.schedule.CoronaNetSchedule` besides the rate, batch and
    steps per epoch (which come from ``train`` and the data) [CR]."""

    world_size: PositiveInt = 1
    warmup_epochs: NonNegInt = 5
    step_epochs: PositiveInt = 30
    extra_drop_epoch: NonNegInt | None = 80
    gamma: Annotated[float, Range(gt=0, le=1)] = 0.1
    reference_batch: PositiveInt = 256


@dataclass(frozen=True)
class ExpectedParams:
    """Parameter counts the built models must have, ``[total, trainable, non_trainable]`` (any spelling
    of :data:`cxr_core.config.param_counts.ParamCountSpec`), checked before training (3 classes only).

    Trainable counts: docs/PAPERS.md §3.1 (INFERRED from [CR]: classification path 15,021,699, with the
    used decoder 15,050,059); non-trainable: the BatchNorm moving statistics (8,448 in VGG16-BN, 352
    more in the decoder); totals are their sums.
    """

    classification: ParamCountSpec | None = (15_030_147, 15_021_699, 8_448)
    with_decoder: ParamCountSpec | None = (15_058_859, 15_050_059, 8_800)


@dataclass(frozen=True)
class CoronaNetSettings:
    """The whole ``extra.coronanet`` section (see the module docstring).

    ``phases``: ``[reinit, classify]`` (the published two phases) or ``[classify]`` (no
    re-initialisation, an ablation).
    """

    phases: Annotated[tuple[Literal["reinit", "classify"], ...], Choices(PHASES, ("classify",))] = PHASES
    reinit: ReinitSettings = field(default_factory=ReinitSettings)
    lr_schedule: ScheduleSettings | None = field(default_factory=ScheduleSettings)
    test_split: Literal["test_split_v2", "test_split_v2_dedup", "test_COVIDx"] = "test_split_v2"
    expected_params: ExpectedParams = field(default_factory=ExpectedParams)


_WHERE = "extra.coronanet"


def parse_settings(raw: Mapping | None, *, origin: str = "<config>") -> CoronaNetSettings:
    """``extra.coronanet`` (a mapping, or None for the defaults) as :class:`CoronaNetSettings`.

    Raises :class:`cxr_core.config.schema.ConfigError` naming the key, the value and what is allowed.
    """
    return build(CoronaNetSettings, raw, _WHERE, origin)


def settings_from_config(cfg) -> CoronaNetSettings:
    """The CORONA-Net settings of an :class:`~cxr_core.config.experiment.ExperimentConfig` (``extra.coronanet``;
    the rest of ``extra`` was checked when the config was loaded)."""
    return parse_settings((cfg.extra or {}).get("coronanet"))

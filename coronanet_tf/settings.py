"""CORONA-Net's own experiment settings: the ``extra.coronanet`` section of an experiment config.

:class:`cxr_core.config.ExperimentConfig` keeps family-specific settings in its free ``extra``
mapping; this module reads ``extra.coronanet`` into frozen dataclasses, rejecting unknown keys and
wrong values with messages that name the key, what was expected and what was found.

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
        expected_params: {classification: 15021699, with_decoder: 15050059,
                          non_trainable_classification: 8448, non_trainable_with_decoder: 8800}
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

PHASES = ("reinit", "classify")
TARGETS = ("normalised_input",)
TEST_SPLITS = ("test_split_v2", "test_split_v2_dedup", "test_COVIDx")


class CoronaNetSettingsError(ValueError):
    """``extra.coronanet`` is malformed; the message names the key."""


@dataclass(frozen=True)
class ReinitSettings:
    """Phase 1, re-initialisation [S0, PG]; details from the authors' ``--mdel-ae True`` run [CR].

    ``epochs``: NOT published anywhere (PAPERS.md §3.7 item 3). ``null`` means ``train.epochs``:
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

    epochs: int | None = None
    target: str = "normalised_input"
    train_classifier: bool = True
    checkpoint: str = "last"


@dataclass(frozen=True)
class ScheduleSettings:
    """Arguments of :class:`coronanet_tf.schedule.CoronaNetSchedule` besides the rate, batch and
    steps per epoch (which come from ``train`` and the data) [CR]."""

    world_size: int = 1
    warmup_epochs: int = 5
    step_epochs: int = 30
    extra_drop_epoch: int | None = 80
    gamma: float = 0.1
    reference_batch: int = 256


@dataclass(frozen=True)
class ExpectedParams:
    """Parameter counts the built models must have (PAPERS.md §3.1), checked before training."""

    classification: int | None = 15_021_699
    with_decoder: int | None = 15_050_059
    non_trainable_classification: int | None = 8_448
    non_trainable_with_decoder: int | None = 8_800


@dataclass(frozen=True)
class CoronaNetSettings:
    """The whole ``extra.coronanet`` section (see the module docstring)."""

    phases: tuple[str, ...] = PHASES
    reinit: ReinitSettings = field(default_factory=ReinitSettings)
    lr_schedule: ScheduleSettings | None = field(default_factory=ScheduleSettings)
    test_split: str = "test_split_v2"
    expected_params: ExpectedParams = field(default_factory=ExpectedParams)


_WHERE = "extra.coronanet"


def _check_keys(cls: type, raw: Mapping, where: str) -> None:
    if not isinstance(raw, Mapping):
        raise CoronaNetSettingsError(f"{where} must be a mapping, found {type(raw).__name__}: {raw!r}")
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in raw if k not in names]
    if unknown:
        raise CoronaNetSettingsError(f"unknown key {where}.{unknown[0]}; allowed keys in {where}: {names}")


def _int(value: Any, key: str, *, minimum: int = 0, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise CoronaNetSettingsError(
            f"{key} must be an integer >= {minimum}{' or null' if optional else ''}, found {value!r}")
    return value


def _choice(value: Any, key: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise CoronaNetSettingsError(f"{key} must be one of {list(allowed)}, found {value!r}")
    return value


def _bool(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise CoronaNetSettingsError(f"{key} must be true or false, found {value!r}")
    return value


def parse_settings(raw: Mapping | None) -> CoronaNetSettings:
    """``extra.coronanet`` (a mapping, or None for the defaults) as :class:`CoronaNetSettings`."""
    if raw is None:
        return CoronaNetSettings()
    _check_keys(CoronaNetSettings, raw, _WHERE)
    kwargs: dict[str, Any] = {}
    if "phases" in raw:
        phases = raw["phases"]
        if isinstance(phases, str) or not isinstance(phases, (list, tuple)):
            raise CoronaNetSettingsError(f"{_WHERE}.phases must be a list, found {phases!r}")
        phases = tuple(phases)
        if phases not in (PHASES, ("classify",)):
            raise CoronaNetSettingsError(
                f"{_WHERE}.phases must be [reinit, classify] (the published two phases) or [classify] "
                f"(no re-initialisation), found {list(phases)}")
        kwargs["phases"] = phases
    if "reinit" in raw:
        r = raw["reinit"] or {}
        where = f"{_WHERE}.reinit"
        _check_keys(ReinitSettings, r, where)
        d = ReinitSettings()
        kwargs["reinit"] = ReinitSettings(
            epochs=_int(r.get("epochs", d.epochs), f"{where}.epochs", minimum=1, optional=True),
            target=_choice(r.get("target", d.target), f"{where}.target", TARGETS),
            train_classifier=_bool(r.get("train_classifier", d.train_classifier), f"{where}.train_classifier"),
            checkpoint=_choice(r.get("checkpoint", d.checkpoint), f"{where}.checkpoint", ("last", "best")),
        )
    if "lr_schedule" in raw:
        s = raw["lr_schedule"]
        where = f"{_WHERE}.lr_schedule"
        if s is None:
            kwargs["lr_schedule"] = None
        else:
            _check_keys(ScheduleSettings, s, where)
            d = ScheduleSettings()
            gamma = s.get("gamma", d.gamma)
            if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not 0 < gamma <= 1:
                raise CoronaNetSettingsError(f"{where}.gamma must be a number in (0, 1], found {gamma!r}")
            kwargs["lr_schedule"] = ScheduleSettings(
                world_size=_int(s.get("world_size", d.world_size), f"{where}.world_size", minimum=1),
                warmup_epochs=_int(s.get("warmup_epochs", d.warmup_epochs), f"{where}.warmup_epochs"),
                step_epochs=_int(s.get("step_epochs", d.step_epochs), f"{where}.step_epochs", minimum=1),
                extra_drop_epoch=_int(s.get("extra_drop_epoch", d.extra_drop_epoch), f"{where}.extra_drop_epoch",
                                      optional=True),
                gamma=float(gamma),
                reference_batch=_int(s.get("reference_batch", d.reference_batch), f"{where}.reference_batch",
                                     minimum=1),
            )
    if "test_split" in raw:
        kwargs["test_split"] = _choice(raw["test_split"], f"{_WHERE}.test_split", TEST_SPLITS)
    if "expected_params" in raw:
        e = raw["expected_params"] or {}
        where = f"{_WHERE}.expected_params"
        _check_keys(ExpectedParams, e, where)
        d = ExpectedParams()
        kwargs["expected_params"] = ExpectedParams(
            **{f.name: _int(e.get(f.name, getattr(d, f.name)), f"{where}.{f.name}", optional=True)
               for f in dataclasses.fields(ExpectedParams)})
    return CoronaNetSettings(**kwargs)


def settings_from_config(cfg) -> CoronaNetSettings:
    """The CORONA-Net settings of an :class:`~cxr_core.config.ExperimentConfig` (``extra.coronanet``)."""
    extra = cfg.extra or {}
    unknown = [k for k in extra if k != "coronanet"]
    if unknown:
        raise CoronaNetSettingsError(
            f"unknown key extra.{unknown[0]} for model family coronanet; allowed: ['coronanet']")
    return parse_settings(extra.get("coronanet"))

"""CORONA-Net's extra.coronanet settings and the pieces of its two-phase training (no VGG built)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from coronanet_tf.schedule import CoronaNetSchedule, coronanet_lr
from coronanet_tf.settings import CoronaNetSettings, CoronaNetSettingsError, parse_settings, settings_from_config
from coronanet_tf.training import learning_rate_for, steps_per_epoch_of
from cxr_core.config.experiment import resolve_config


def test_defaults_are_the_authors_code():
    s = parse_settings(None)
    assert s == CoronaNetSettings()
    assert s.phases == ("reinit", "classify") and s.reinit.epochs is None and s.reinit.checkpoint == "last"
    assert (s.lr_schedule.warmup_epochs, s.lr_schedule.step_epochs, s.lr_schedule.extra_drop_epoch) == (5, 30, 80)


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"reinit": {"epoch": 3}}, "unknown key extra.coronanet.reinit.epoch"),
        ({"optimizer": {}}, "unknown key extra.coronanet.optimizer"),
        ({"phases": ["classify", "reinit"]}, "extra.coronanet.phases"),
        ({"phases": "reinit"}, "must be a list"),
        ({"reinit": {"epochs": 0}}, "extra.coronanet.reinit.epochs must be an integer >= 1"),
        ({"reinit": {"target": "minus1_1"}},
         "extra.coronanet.reinit.target: 'minus1_1' is not one of normalised_input"),
        ({"reinit": {"checkpoint": "bestest"}}, "extra.coronanet.reinit.checkpoint: 'bestest' is not one of last, best"),
        ({"reinit": {"train_classifier": "yes"}}, "train_classifier must be true or false"),
        ({"lr_schedule": {"gamma": 2}}, "lr_schedule.gamma must be a number in (0, 1]"),
        ({"lr_schedule": {"warmup": 5}}, "unknown key extra.coronanet.lr_schedule.warmup"),
        ({"test_split": "test_v3"},
         "extra.coronanet.test_split: 'test_v3' is not one of test_split_v2, test_split_v2_dedup, test_COVIDx"),
        ({"expected_params": {"classification": "many"}}, "expected_params.classification: 'many' is not one of"),
        ({"expected_params": {"classification": [1, 2]}}, "expected_params.classification must be a list of 3"),
    ],
)
def test_bad_settings_name_the_key(raw, message):
    with pytest.raises(CoronaNetSettingsError, match=re.escape(message)):
        parse_settings(raw)


def test_settings_from_an_experiment_config():
    cfg = resolve_config({"preset": "coronanet/paper",
                          "extra": {"coronanet": {"reinit": {"epochs": 7}, "lr_schedule": None}}})
    s = settings_from_config(cfg)
    assert s.reinit.epochs == 7 and s.lr_schedule is None and s.test_split == "test_split_v2_dedup"
    # extra.coronanet is checked when the config is loaded, by the core, against CoronaNetSettings
    with pytest.raises(CoronaNetSettingsError, match="unknown key extra.coronet for model family coronanet"):
        resolve_config({"preset": "coronanet/paper", "extra": {"coronet": {}}})
    with pytest.raises(CoronaNetSettingsError, match=r"^x\.yaml: extra\.coronanet\.reinit\.checkpoint: 'bst' is not "
                       "one of last, best$"):
        resolve_config({"preset": "coronanet/paper", "extra": {"coronanet": {"reinit": {"checkpoint": "bst"}}}},
                       origin="x.yaml")


def test_learning_rate_is_the_authors_schedule_per_phase():
    cfg = resolve_config({"preset": "coronanet/authors_code"})
    lr = learning_rate_for(cfg, settings_from_config(cfg), steps_per_epoch=10)
    assert isinstance(lr, CoronaNetSchedule) and lr.scaled_lr == pytest.approx(4.6875e-6)
    for step in (0, 9, 49, 50, 299, 300, 799, 800):
        assert float(lr(step)) == pytest.approx(coronanet_lr(step, 1e-4, 12, 10), rel=1e-5)
    constant = resolve_config({"preset": "coronanet/authors_code", "extra": {"coronanet": {"lr_schedule": None}}})
    assert learning_rate_for(constant, settings_from_config(constant), 10) == 1e-4


def test_steps_per_epoch_from_the_data():
    import tensorflow as tf

    ds = tf.data.Dataset.range(25).batch(12)  # len(train_loader) with drop_last=False
    assert steps_per_epoch_of(ds, None) == 3
    assert steps_per_epoch_of(ds, 5) == 5
    assert steps_per_epoch_of(ds.filter(lambda x: True), None) == 3  # unknown cardinality: counted
    with pytest.raises(ValueError, match="steps_per_epoch"):
        steps_per_epoch_of(ds.repeat(), None)


def test_adam_l2_trains_under_mixed_precision():
    """``train.optimizer.name: adam_l2`` through cxr_core's compile, with the loss-scaling wrapper."""
    import keras

    from cxr_core.config.experiment import TrainConfig, OptimizerConfig
    from cxr_core.training.fit import compile_model

    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        inp = keras.Input((4,))
        out = keras.layers.Activation("linear", dtype="float32")(keras.layers.Dense(3)(inp))
        model = keras.Model(inp, out)
        train = TrainConfig(optimizer=OptimizerConfig("adam_l2", 1e-3, {"l2": 1e-4}),
                            loss="categorical_crossentropy_from_logits")
        compile_model(model, train)
        before = model.get_weights()[0].copy()
        x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
        y = np.eye(3, dtype="float32")[np.arange(8) % 3]
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)
        assert "AdamL2" in type(model.optimizer.inner_optimizer if hasattr(model.optimizer, "inner_optimizer")
                                else model.optimizer).__name__
        assert not np.allclose(model.get_weights()[0], before)
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.slow
def test_a_phase_resumes_mid_way_with_the_schedule(tmp_path):
    """A phase trained for 1 epoch, then given 3, continues with the schedule at the restored iteration
    (the finished split kept its weights only; state.json keeps the optimizer's step count)."""
    import json

    import keras
    import tensorflow as tf

    from cxr_core.config.experiment import OptimizerConfig, TrainConfig
    from cxr_core.training.fit import fit_split

    def build():
        inp = keras.Input((4,))
        return keras.Model(inp, keras.layers.Dense(3)(inp))

    def data(first_epoch):
        rng = np.random.default_rng(first_epoch)
        x = rng.normal(size=(8, 4)).astype("float32")
        y = np.eye(3, dtype="float32")[np.arange(8) % 3]
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(4)

    train = TrainConfig(optimizer=OptimizerConfig("adam_l2", 1e-4, {"l2": 1e-4}),
                        loss="categorical_crossentropy_from_logits", epochs=1, checkpoint="last", verbose=0)
    schedule = CoronaNetSchedule(1e-4, 12, steps_per_epoch=2)
    fit_split(build, data, None, tmp_path, train, learning_rate=schedule)
    import dataclasses

    result = fit_split(build, data, None, tmp_path, dataclasses.replace(train, epochs=3), learning_rate=schedule)
    assert (result.resumed_from, result.epochs_done) == (1, 3)
    state = json.loads((tmp_path / "checkpoints/state.json").read_text())
    assert state["learning_rate"] == pytest.approx(coronanet_lr(6, 1e-4, 12, 2), rel=1e-5)  # 6 updates done


def test_the_built_models_have_the_three_expected_counts_of_the_preset():
    """extra.coronanet.expected_params [total, trainable, non_trainable] (docs/PAPERS.md §3.1) against the
    built models; a wrong split of the same total is refused."""
    from coronanet_tf.model import build_coronanet
    from coronanet_tf.training import check_param_counts

    settings = settings_from_config(resolve_config({"preset": "coronanet/authors_code"}))
    for with_decoder in (False, True):
        model = build_coronanet(with_decoder=with_decoder, backbone_weights=None)
        check_param_counts(model, settings, with_decoder=with_decoder, where="test")
    wrong = parse_settings({"expected_params": {"with_decoder": [15_058_859, 15_058_859, 0]}})
    with pytest.raises(ValueError, match=r"extra\.coronanet\.expected_params\.with_decoder: the model \(test\) has "
                       r"trainable 15,050,059 parameters, the config expects 15,058,859; non-trainable 8,800"):
        check_param_counts(model, wrong, with_decoder=True, where="test")

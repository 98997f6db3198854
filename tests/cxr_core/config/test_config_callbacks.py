"""train.early_stopping, train.reduce_lr and the monitored log names are checked at load
(cxr_core.config.callbacks): the keywords are the ones Keras accepts, with Keras' defaults, and the
monitors are the names a compiled model logs."""

from __future__ import annotations

import inspect
import re
import typing
from pathlib import Path

import pytest
import yaml

from cxr_core.config.schema import ConfigError
from cxr_core.config.experiment import load_config, parse_override, resolve_config
from cxr_core.config.callbacks import (
    COMPILED_METRICS, MONITORS, EarlyStoppingKeywords, Monitor, ReduceLROnPlateauKeywords,
)

REPO = Path(__file__).resolve().parents[3]
CVRNET = REPO / "experiments/cvrnet/task1.yaml"  # EarlyStopping + ReduceLROnPlateau [CVR-T]
CORONET = REPO / "experiments/coronet/4class.yaml"  # neither


def _fields(cls) -> dict:
    return {f.name: f.default for f in cls.__dataclass_fields__.values()}


@pytest.mark.parametrize("schema, callback", [(EarlyStoppingKeywords, "EarlyStopping"),
                                              (ReduceLROnPlateauKeywords, "ReduceLROnPlateau")])
def test_the_schemas_are_the_keras_keywords_with_keras_defaults(schema, callback):
    import keras

    params = {name: p.default for name, p in inspect.signature(getattr(keras.callbacks, callback).__init__).parameters.items()
              if name != "self" and p.kind is not inspect.Parameter.VAR_KEYWORD}
    assert _fields(schema) == params


def test_a_typo_in_a_callback_keyword_fails_at_load_naming_set_the_key_and_the_allowed_keys():
    with pytest.raises(ConfigError) as err:
        load_config(CVRNET, overrides=parse_override("train.early_stopping.monitr=1"))
    message = str(err.value)
    assert message.startswith("--set: unknown key train.early_stopping.monitr; allowed keys in train.early_stopping: ")
    assert all(name in message for name in _fields(EarlyStoppingKeywords))
    # ReduceLROnPlateau would swallow an unknown keyword (**kwargs) and run without it
    with pytest.raises(ConfigError, match=r"^--set: unknown key train\.reduce_lr\.patiense; allowed keys .*'patience'"):
        load_config(CORONET, overrides=parse_override("train.reduce_lr={patiense: 3}"))


def test_a_bad_callback_value_in_a_file_names_the_file(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump({"preset": "cvrnet/authors_code", "train": {"reduce_lr": {"mode": "maximum"}}}))
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: train\.reduce_lr\.mode: 'maximum' is not one of "
                                          r"auto, min, max$"):
        load_config(path)


@pytest.mark.parametrize("setting, message", [
    ("train.reduce_lr.factor=1.0", "train.reduce_lr.factor must be a number in (0, 1), found 1.0"),
    ("train.reduce_lr.factor=0", "train.reduce_lr.factor must be a number in (0, 1), found 0.0"),
    ("train.reduce_lr.min_lr=-0.001", "train.reduce_lr.min_lr must be a number >= 0, found -0.001"),
    ("train.reduce_lr.cooldown=-1", "train.reduce_lr.cooldown must be an integer >= 0, found -1"),
    ("train.early_stopping.patience=-1", "train.early_stopping.patience must be an integer >= 0, found -1"),
    ("train.early_stopping.patience=2.5", "train.early_stopping.patience must be an integer, found 2.5"),
    ("train.early_stopping.min_delta=-0.1", "train.early_stopping.min_delta must be a number >= 0, found -0.1"),
    ("train.early_stopping.start_from_epoch=-2", "train.early_stopping.start_from_epoch must be an integer >= 0"),
    ("train.early_stopping.restore_best_weights=yes_please",
     "train.early_stopping.restore_best_weights must be true or false, found 'yes_please'"),
    ("train.early_stopping.monitor=val_acc",
     "train.early_stopping.monitor: 'val_acc' is not one of val_accuracy, val_loss, accuracy, loss"),
    ("train.checkpoint_monitor=val_auc",
     "train.checkpoint_monitor: 'val_auc' is not one of val_accuracy, val_loss, accuracy, loss"),
    ("train.reduce_lr.min_lr=1e-8",
     "train.reduce_lr.min_lr must be a number, found '1e-8' (YAML reads 1e-8 as text; write 1.0e-8)"),
    ("train.early_stopping=5", "train.early_stopping: 5 is not one of a mapping (key: value), null"),
])
def test_bad_callback_values_fail_at_load(setting, message):
    with pytest.raises(ConfigError, match=rf"^--set: {re.escape(message)}"):
        load_config(CVRNET, overrides=parse_override(setting))


def test_the_value_stays_the_mapping_as_written_and_builds_the_keras_callbacks():
    """Keys left out keep Keras' defaults; a merged override changes one key of the preset's mapping."""
    import keras

    cfg = load_config(CVRNET, overrides=parse_override("train.early_stopping.patience=5"))
    assert cfg.train.early_stopping == {"monitor": "val_accuracy", "patience": 5, "mode": "max"}
    assert cfg.train.reduce_lr == {"monitor": "val_accuracy", "factor": 0.1, "patience": 4, "mode": "max", "min_lr": 1e-8}
    stop = keras.callbacks.EarlyStopping(**cfg.train.early_stopping)
    assert (stop.monitor, stop.patience, stop.baseline) == ("val_accuracy", 5, None)
    reduce = keras.callbacks.ReduceLROnPlateau(**cfg.train.reduce_lr)
    assert (reduce.factor, reduce.min_lr, reduce.cooldown) == (0.1, 1e-8, 0)
    assert load_config(CVRNET, overrides=parse_override("train.early_stopping=null")).train.early_stopping is None
    ints = load_config(CORONET, overrides=parse_override("train.early_stopping={min_delta: 0, patience: 3}"))
    assert ints.train.early_stopping == {"min_delta": 0.0, "patience": 3}


def test_monitors_are_the_names_a_compiled_model_logs():
    """MONITORS == the Literal, and == the keys of a fit's logs with validation data for a model
    compiled as cxr_core.training.fit compiles it (fit_split's default metrics)."""
    import keras
    import numpy as np

    from cxr_core.training.fit import compile_model, fit_split
    from tests.cxr_core.training.test_training import _train_cfg

    assert typing.get_args(Monitor) == MONITORS
    assert inspect.signature(fit_split).parameters["metrics"].default == COMPILED_METRICS
    assert inspect.signature(compile_model).parameters["metrics"].default == COMPILED_METRICS
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    model = compile_model(keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(inputs)), _train_cfg(),
                          metrics=COMPILED_METRICS)
    x, y = np.zeros((4, 4), "float32"), np.eye(3, dtype="float32")[[0, 1, 2, 0]]
    history = model.fit(x, y, validation_data=(x, y), epochs=1, batch_size=4, verbose=0)
    assert set(history.history) == set(MONITORS)


@pytest.mark.parametrize("train", [
    {"checkpoint": "best", "checkpoint_monitor": "val_accuracy"},
    {"early_stopping": {"patience": 2}},  # Keras' default monitor: val_loss
    {"reduce_lr": {"monitor": "val_loss"}},
])
def test_a_validation_monitor_without_validation_data_fails_at_load(train):
    raw = {"preset": "coronet/authors_code", "protocol": {"validation": "none"}, "train": train}
    with pytest.raises(ConfigError, match=r"^x\.yaml: train\.\S+: 'val_\w+' is logged only with validation data, "
                                          r"but protocol\.validation is none; monitor one of accuracy, loss$"):
        resolve_config(raw, origin="x.yaml")
    fixed = {k: (dict(v, monitor="loss") if isinstance(v, dict) else "loss" if k == "checkpoint_monitor" else v)
             for k, v in train.items()}
    assert resolve_config(dict(raw, train=fixed), origin="x.yaml").protocol.validation == "none"

"""Experiment configs: presets merged with YAML, unknown keys rejected with the key named."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxr_core.config import ConfigError, config_to_dict, load_config, parse_override, replace, resolve_config, smoke_overrides

REPO = Path(__file__).resolve().parents[2]


def test_coronet_experiment_resolves_to_the_papers_protocol():
    cfg = load_config(REPO / "experiments/coronet/4class.yaml")
    assert cfg.model.family == "coronet"
    assert (cfg.train.optimizer.name, cfg.train.optimizer.learning_rate) == ("adam", 1e-4)
    assert (cfg.train.batch_size, cfg.train.epochs) == (10, 80)
    assert (cfg.protocol.kind, cfg.protocol.n_folds) == ("kfold", 4)
    assert dict(cfg.data.undersample) == {"covid": 284, "normal": 310, "pneumonia_bac": 330, "pneumonia_vir": 327}
    assert sum(cfg.data.undersample.values()) == 1251  # Table I [S4]
    assert cfg.preprocess.image_size == (150, 150)
    assert cfg.deviations, "the preset's notes travel with the resolved config"


def test_unknown_keys_are_rejected_with_their_path(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("preset: coronet/paper\ntrain:\n  epoch: 3\n")
    with pytest.raises(ConfigError, match=r"unknown key train\.epoch.*allowed keys in train"):
        load_config(path)
    path.write_text("presets: coronet/paper\n")
    with pytest.raises(ConfigError, match="unknown top-level key 'presets'"):
        load_config(path)


def test_types_are_checked():
    with pytest.raises(ConfigError, match="train.epochs must be an integer"):
        resolve_config({"train": {"epochs": "many"}})
    with pytest.raises(ConfigError, match="augment.horizontal_flip must be true or false"):
        resolve_config({"augment": {"horizontal_flip": "yes"}})


def test_unknown_preset_lists_the_existing_ones():
    with pytest.raises(KeyError, match="available: \\['authors_code', 'paper'\\]"):
        resolve_config({"preset": "coronet/papper"})


def test_overrides_and_smoke_keep_everything_else():
    cfg = load_config(REPO / "experiments/coronet/4class.yaml", overrides=parse_override("train.epochs=3"))
    assert cfg.train.epochs == 3 and cfg.train.batch_size == 10
    smoke = replace(cfg, smoke_overrides(cfg))
    assert smoke.train.epochs == 1 and smoke.preprocess.image_size == (71, 71)
    assert smoke.protocol == cfg.protocol and smoke.augment == cfg.augment
    assert config_to_dict(smoke)["preset"] == "coronet/paper"


def test_parse_override_reads_yaml_values():
    assert parse_override("preprocess.image_size=[224,224]") == {"preprocess": {"image_size": [224, 224]}}
    with pytest.raises(ConfigError):
        parse_override("no-equals-sign")

"""YAML load errors (issue 17, part 4): a key given twice, a malformed ``--set`` value, unknown keys under
``model.options`` / ``train.optimizer.options`` (checked against the builder's and optimizer's
signatures at load, before any image is read), each one line on the CLI with exit 2."""

from __future__ import annotations

import pytest

from cxr_core.config.experiment import load_config, parse_override
from cxr_core.config.schema import ConfigError

DUPLICATED = """preset: coronet/authors_code
train:
  epochs: 3
data:
  source: nowhere
train:
  batch_size: 4
"""


def test_a_key_given_twice_is_an_error_naming_the_key_and_both_lines(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text(DUPLICATED)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: key 'train' is given twice, at line 2 and at line 6;")


def test_a_nested_key_given_twice_is_refused_too(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("preset: coronet/authors_code\ntrain:\n  epochs: 3\n  epochs: 80\n")
    with pytest.raises(ConfigError, match=r"key 'epochs' is given twice, at line 3 and at line 4"):
        load_config(path)


def test_a_malformed_set_value_is_a_one_line_error():
    with pytest.raises(ConfigError) as err:
        parse_override("train.epochs=[3")
    text = str(err.value)
    assert "\n" not in text
    assert text.startswith("--set train.epochs=[3: the value '[3' is not valid YAML (")


@pytest.mark.parametrize("key, found, allowed", [
    ("model.options", "dropout", "'dense_units', 'dropout_rate', 'name'"),
    ("train.optimizer.options", "beta1", "'beta_1', 'beta_2'"),
])
def test_unknown_option_keys_are_refused_at_load_against_the_signatures(tmp_path, key, found, allowed):
    path = tmp_path / "x.yaml"
    path.write_text("preset: coronet/authors_code\ndata:\n  source: /nonexistent/images\n")
    with pytest.raises(ConfigError) as err:  # the data folder does not exist: nothing was read
        load_config(path, overrides=parse_override(f"{key}.{found}=0.5"))
    text = str(err.value)
    assert text.startswith(f"--set: unknown key {key}.{found} for ")
    assert allowed in text


def test_known_option_keys_load(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("preset: cvrnet/authors_code\n")
    cfg = load_config(path, overrides={"train": {"optimizer": {"options": {"beta_1": 0.8, "clipnorm": 1.0}}}})
    assert cfg.train.optimizer.options["clipnorm"] == 1.0


def test_the_cli_says_it_in_one_line_with_exit_2(tmp_path, capsys):
    from cxr_core.cli.main import main

    path = tmp_path / "x.yaml"
    path.write_text(DUPLICATED)
    assert main(["cv", str(path), "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "key 'train' is given twice, at line 2 and at line 6" in err[0]
    assert main(["cv", str(path), "--set", "train.epochs=[3"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(
        "covid-cxr cv: error: --set train.epochs=[3: the value '[3' is not valid YAML")

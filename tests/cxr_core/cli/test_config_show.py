"""``covid-cxr config show``: every value of the resolved config with the layer that set it."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import yaml

from cxr_core.cli.main import main

REPO = Path(__file__).resolve().parents[3]
EXPERIMENT = REPO / "experiments" / "coronet" / "4class.yaml"


def _rows(capsys, *args) -> dict[str, tuple[object, str]]:
    assert main(["config", "show", str(EXPERIMENT), "--format", "csv", *args]) == 0
    reader = csv.DictReader(io.StringIO(capsys.readouterr().out))
    return {r["key"]: (json.loads(r["value"]), r["origin"]) for r in reader}


def test_each_value_names_the_layer_that_set_it(capsys, tmp_path):
    raw = yaml.safe_load(EXPERIMENT.read_text())
    rows = _rows(capsys, "--data", str(tmp_path), "--smoke", "--set", "train.epochs=3")
    assert rows["name"] == (raw["name"], "yaml")
    assert rows["data.source"] == (str(tmp_path), "--data")
    assert rows["train.epochs"] == (3, "--set")  # an explicit value wins over --smoke's 1 epoch
    assert rows["train.steps_per_epoch"] == (2, "smoke")
    assert rows["model.backbone_weights"] == (None, "smoke")
    # Table I's counts come from the preset [S4]
    assert rows["data.undersample.covid"] == (284, "preset coronet/paper")
    assert rows["protocol.n_folds"] == (4, "preset coronet/paper")
    assert rows["train.mlflow_uri"] == (None, "default")


def test_without_smoke_the_published_values_stand(capsys):
    rows = _rows(capsys)
    assert rows["train.epochs"] == (80, "preset coronet/paper") and rows["train.batch_size"][0] == 10


def test_a_bad_value_is_the_same_one_line_error_as_cv(capsys):
    assert main(["config", "show", str(EXPERIMENT), "--set", "preprocess.resize_method=cubic"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "preprocess.resize_method" in err[0] and "cubic" in err[0]

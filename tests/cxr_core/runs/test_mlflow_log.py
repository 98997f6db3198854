"""MLflow logging of a run directory into a local file store, read back with MLflow's client."""

from __future__ import annotations

import sys

import pandas as pd
import pytest
import yaml

from cxr_core.runs import mlflow_log
from tests.references import require


def _run_dir(tmp_path):
    run = tmp_path / "runs" / "exp" / "20250101-000000"
    (run / "fold_0").mkdir(parents=True)
    (run / "fold_1" / "phase1").mkdir(parents=True)
    config = {"name": "exp", "train": {"epochs": 3, "optimizer": {"name": "adam", "learning_rate": 1e-4}},
              "preprocess": {"image_size": [71, 71]}, "model": {"options": {}}}
    (run / "config.yaml").write_text(yaml.safe_dump({"config": config, "package_version": "0.1", "smoke": True,
                                                     "class_names": ["a", "b"]}))
    pd.DataFrame({"epoch": [0, 1, 2], "loss": [1.0, 0.8, 0.6], "accuracy": [0.5, 0.6, 0.7]}).to_csv(
        run / "fold_0" / "training_log.csv", index=False)
    # a resumed log with epoch 1 appended twice: the last row counts
    pd.DataFrame({"epoch": [0, 1, 1], "loss": [2.0, 1.5, 1.4]}).to_csv(run / "fold_1" / "phase1" / "training_log.csv",
                                                                       index=False)
    pd.DataFrame({"value": [0.75], "low": [0.6], "high": [0.9]}, index=["precision[a]"]).to_csv(
        run / "results_pooled_ci.csv")
    (run / "report.md").write_text("# exp\n")
    (run / "report.html").write_text("<html></html>")
    (run / "fold_0" / "curves.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (run / "fold_0" / "checkpoints").mkdir()
    (run / "fold_0" / "checkpoints" / "last.weights.h5").write_bytes(b"x")
    return run


@pytest.mark.slow
def test_a_run_is_logged_to_a_file_store_and_read_back(tmp_path, monkeypatch):
    MlflowClient = require("mlflow.tracking").MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps file stores behind this switch

    run = _run_dir(tmp_path)
    uri = (tmp_path / "mlruns").as_uri()
    run_id = mlflow_log.log_run(run, uri)

    client = MlflowClient(tracking_uri=uri)
    logged = client.get_run(run_id)
    assert logged.info.status == "FINISHED"
    assert logged.data.params["train.optimizer.learning_rate"] == "0.0001"
    assert logged.data.params["preprocess.image_size"] == "[71, 71]"
    assert logged.data.params["model.options"] == "{}"
    assert logged.data.tags["smoke"] == "True" and logged.data.tags["mlflow.runName"] == run.name
    assert client.get_experiment(logged.info.experiment_id).name == "exp"
    history = client.get_metric_history(run_id, "fold_0/loss")
    assert [(m.step, m.value) for m in sorted(history, key=lambda m: m.step)] == [(0, 1.0), (1, 0.8), (2, 0.6)]
    phase = client.get_metric_history(run_id, "fold_1/phase1/loss")
    assert sorted((m.step, m.value) for m in phase) == [(0, 2.0), (1, 1.4)]
    assert logged.data.metrics["pooled/precision_a"] == 0.75

    top = {a.path for a in client.list_artifacts(run_id)}
    assert {"report.md", "report.html", "config.yaml", "fold_0"} <= top
    fold = {a.path for a in client.list_artifacts(run_id, "fold_0")}
    assert fold == {"fold_0/curves.png"}, "checkpoints are not copied"


def test_flatten_gives_dotted_keys_and_cuts_long_values():
    flat = mlflow_log.flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": None, "f": "x" * 7000})
    assert flat["a.b"] == "1" and flat["a.c.d"] == "[1, 2]" and flat["e"] == "None"
    assert len(flat["f"]) == mlflow_log.PARAM_VALUE_LIMIT and flat["f"].endswith("...")
    assert mlflow_log.metric_name("pooled/precision[covid]") == "pooled/precision_covid"


def test_missing_mlflow_is_said_with_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(ImportError, match=r"pip install 'covid-cxr-tf\[mlflow\]'"):
        mlflow_log.require_mlflow()


def test_a_refused_tracking_uri_is_one_clear_error(tmp_path, monkeypatch):
    mlflow = require("mlflow")
    if int(mlflow.__version__.split(".")[0]) < 3:
        pytest.skip("MLflow 2 accepts file stores")
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    run = _run_dir(tmp_path)
    with pytest.raises(ValueError, match=r"--mlflow file:.*MLflow refused .* run the same command again"):
        mlflow_log.log_run(run, (tmp_path / "mlruns").as_uri())

"""A finished tiny run reused: ``--run`` on predict/evaluate/explain/export, the Python API, provenance,
the export's metadata (issue 12 items 6, 7, 8, 16), on real images of ../shared/data/cxr4-mini."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml


pytestmark = pytest.mark.slow

CLASSES = ["covid", "normal", "pneumonia_bacterial", "pneumonia_viral"]


@pytest.fixture(scope="module")
def tiny_run(tiny_family, cxr4_mini, tmp_path_factory):
    """A 2-fold tiny-CNN run on the 4-class real images, made through the Python API."""
    import cxr_core

    run = cxr_core.run_experiment(
        {"name": "tiny-api", "preset": "tinycnn/authors_code",
         "data": {"class_names": CLASSES},
         "train": {"epochs": 1, "batch_size": 16}, "evaluation": {"n_bootstrap": 5}},
        data=cxr4_mini, run_dir=tmp_path_factory.mktemp("runs") / "tiny")
    return run


def _fold_test_images(run_dir: Path, fold: int, n: int = 6) -> tuple[list[str], pd.DataFrame]:
    """Paths of ``n`` test images of ``fold`` and their rows of predictions.csv."""
    preds = pd.read_csv(run_dir / f"fold_{fold}" / "predictions.csv").head(n)
    root = Path(yaml.safe_load((run_dir / "config.yaml").read_text())["config"]["data"]["source"])
    return [str(root / sid) for sid in preds["sample_id"]], preds


def _cli(*argv) -> int:
    from cxr_core.cli.main import main

    return main([str(a) for a in argv])


def test_run_experiment_returns_the_run_and_keeps_selected_weights_only(tiny_run):
    assert isinstance(tiny_run, __import__("cxr_core").ExperimentRun)
    assert tiny_run.report.is_file()
    results = tiny_run.results
    raw = pd.read_csv(tiny_run.run_dir / "results.csv")
    assert not any(c.startswith("Unnamed") for c in results.columns) and results.index.name == "fold"
    assert list(results.index) == list(raw.iloc[:, 0]) and "mean" in results.index and len(results) >= 2
    np.testing.assert_allclose(results.to_numpy(float), raw.iloc[:, 1:].to_numpy(float))
    assert len(repr(tiny_run)) < 200 and "finished folds: 2" in repr(tiny_run)
    clf = tiny_run.classifier(fold=0)
    assert len(repr(clf)) < 300 and "fold=0" in repr(clf), repr(clf)
    run_dir = tiny_run.run_dir
    kept = sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*.weights.h5"))
    assert kept == ["fold_0/checkpoints/last.weights.h5", "fold_1/checkpoints/last.weights.h5"]  # item 8


def test_predict_run_gives_the_runs_own_probabilities(tiny_run, tmp_path, capsys):
    run_dir = tiny_run.run_dir
    paths, preds = _fold_test_images(run_dir, 1)
    out = tmp_path / "pred.csv"
    assert _cli("predict", "--run", run_dir, "--fold", "1", "--csv", out, *paths) == 0
    got = pd.read_csv(out)
    np.testing.assert_allclose(got[[f"prob_{c}" for c in CLASSES]].to_numpy(),
                               preds[[f"prob_{c}" for c in CLASSES]].to_numpy(), rtol=1e-5, atol=1e-6)
    assert list(got["predicted"]) == list(preds["predicted"])


def test_a_kfold_run_without_fold_predicts_with_the_fold_ensemble(tiny_run, capsys, tmp_path):
    """Without --fold: the mean of the finished folds' probabilities, said in the output."""
    paths, _ = _fold_test_images(tiny_run.run_dir, 0, 3)
    out = tmp_path / "ensemble.csv"
    assert _cli("predict", "--run", tiny_run.run_dir, "--csv", out, *paths) == 0
    assert "the ensemble of folds 0, 1 of run" in capsys.readouterr().err
    got = pd.read_csv(out)[[f"prob_{c}" for c in CLASSES]].to_numpy()
    each = []
    for k in (0, 1):
        single = tmp_path / f"fold{k}.csv"
        assert _cli("predict", "--run", tiny_run.run_dir, "--fold", k, "--csv", single, *paths) == 0
        each.append(pd.read_csv(single)[[f"prob_{c}" for c in CLASSES]].to_numpy())
    np.testing.assert_allclose(got, np.mean(each, axis=0), rtol=1e-5, atol=1e-6)
    # explain and export need one model: still one clear error naming the finished folds
    capsys.readouterr()
    assert _cli("export", "--run", tiny_run.run_dir, tmp_path / "x.keras") == 2
    err = capsys.readouterr().err
    assert "--fold K" in err and "finished folds: 0, 1" in err
    assert _cli("predict", "--run", tiny_run.run_dir, "--fold", "7", *paths) == 2


def test_load_classifier_equals_cli_predict_and_the_run(tiny_run, tmp_path):
    import cxr_core

    paths, preds = _fold_test_images(tiny_run.run_dir, 0)
    clf = cxr_core.load_classifier(tiny_run.run_dir, fold=0)
    assert clf.class_names == tuple(CLASSES) and clf.image_size == (32, 32) and clf.fold == 0
    frame = clf.predict(paths)
    assert list(frame.columns) == ["path", *CLASSES, "predicted"] and list(frame["path"]) == paths
    np.testing.assert_allclose(frame[CLASSES].to_numpy(), preds[[f"prob_{c}" for c in CLASSES]].to_numpy(),
                               rtol=1e-5, atol=1e-6)
    # the same weights by file, through family/preset: the CLI's predict --model --weights
    weights = tiny_run.run_dir / "fold_0" / "checkpoints" / "last.weights.h5"
    out = tmp_path / "cli.csv"
    assert _cli("predict", "--model", "tinycnn", "--weights", weights, "--class-names", ",".join(CLASSES),
                "--csv", out, *paths) == 0
    by_preset = cxr_core.load_classifier("tinycnn/authors_code", weights=weights, class_names=CLASSES)
    cli = pd.read_csv(out)
    np.testing.assert_array_equal(by_preset.predict(paths)[CLASSES].to_numpy(),
                                  cli[[f"prob_{c}" for c in CLASSES]].to_numpy().astype(np.float64))


def test_preprocess_is_the_presets_decode_resize_and_scaling(tiny_run):
    import cxr_core
    from cxr_core.data.decode.images import load_image_array, scale_pixels

    paths, _ = _fold_test_images(tiny_run.run_dir, 0, 3)
    clf = cxr_core.load_classifier(tiny_run.run_dir / "fold_0")
    x = clf.preprocess(paths)
    assert x.shape == (3, 32, 32, 3) and x.dtype == np.float32
    pre = clf.config.preprocess
    expected = np.stack([scale_pixels(load_image_array(p, (32, 32), pre.resize_method, pre.pre_resize), pre.scaling).numpy()
                         for p in paths])
    np.testing.assert_allclose(x, expected, atol=1e-6)
    assert 0.0 <= x.min() and x.max() <= 1.0  # tinycnn: rescale01


def test_load_classifier_needs_weights_for_a_preset():
    import cxr_core

    with pytest.raises(ValueError, match="downloads no weights"):
        cxr_core.load_classifier("tinycnn/authors_code")


def test_import_cxr_core_does_not_import_tensorflow():
    code = "import sys, cxr_core; cxr_core.load_classifier; cxr_core.run_experiment; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------------------------- provenance (item 16)
def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_run_records_versions_devices_and_weight_hashes(tiny_run):
    import keras
    import tensorflow as tf

    record = yaml.safe_load((tiny_run.run_dir / "config.yaml").read_text())
    env = record["provenance"]
    assert env["tensorflow"] == tf.__version__ and env["keras"] == keras.__version__
    assert env["python"] == ".".join(map(str, sys.version_info[:3])) and "cuda" in env and "cudnn" in env
    assert any(d.startswith("CPU") for d in env["devices"])
    fold = json.loads((tiny_run.run_dir / "fold_0" / "provenance.json").read_text())
    selected = tiny_run.run_dir / "fold_0" / "checkpoints" / "last.weights.h5"
    assert [w["sha256"] for w in fold["weights"] if w["role"] == "selected"] == [_sha(selected)]
    assert "provenance: software" in tiny_run.report.read_text()


def test_evaluate_run_records_the_weights_it_read(tiny_run, cxr4_mini, tmp_path, capsys):
    out = tmp_path / "eval"
    assert _cli("evaluate", "--run", tiny_run.run_dir, "--fold", "1", "--data", cxr4_mini, "--out", out,
                "--n-bootstrap", "5") == 0
    # stdout: the files written, the output folder last (logs and tables go to stderr)
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-1] == str(out) and str(out / "report.md") in printed
    # the figures and report.html of a run's report
    for name in ("confusion_matrix.png", "roc_pr.png", "reliability.png", "report.md", "report.html"):
        assert (out / name).is_file(), name
    report = (out / "report.md").read_text()
    assert "![roc_pr.png](roc_pr.png)" in report and "fold 1" in report
    record = json.loads((out / "provenance.json").read_text())
    weights = tiny_run.run_dir / "fold_1" / "checkpoints" / "last.weights.h5"
    assert record["weights"][0]["sha256"] == _sha(weights) and record["run"]["fold"] == 1
    assert record["environment"]["package"] == "covid-cxr-tf"


def test_merged_report_names_the_run_directories(tiny_run, tmp_path):
    out = tmp_path / "merged"
    assert _cli("report", tiny_run.run_dir, "--out", out) == 0
    assert str(tiny_run.run_dir.resolve()) in (out / "report.md").read_text()
    assert json.loads((out / "provenance.json").read_text())["run_dirs"] == [str(tiny_run.run_dir.resolve())]


def test_export_carries_class_names_and_preprocessing(tiny_run, tmp_path):
    import keras

    import cxr_core
    from cxr_core.inference.export import read_export_metadata

    dest = tmp_path / "tiny.keras"
    assert _cli("export", "--run", tiny_run.run_dir, "--fold", "0", dest) == 0
    with zipfile.ZipFile(dest) as z:
        assert "covid_cxr.json" in z.namelist()
    meta = read_export_metadata(dest)
    assert meta["class_names"] == CLASSES and meta["preprocess"]["image_size"] == [32, 32]
    assert meta["preprocess"]["scaling"] == "rescale01" and meta["run"]["fold"] == 0
    keras.models.load_model(dest, safe_mode=True, compile=False)  # the extra member does not disturb Keras
    paths, preds = _fold_test_images(tiny_run.run_dir, 0)
    clf = cxr_core.load_classifier(dest)
    frame = clf.predict(paths)
    np.testing.assert_allclose(frame[CLASSES].to_numpy(), preds[[f"prob_{c}" for c in CLASSES]].to_numpy(),
                               rtol=1e-5, atol=1e-6)
    # The model card beside the export (Hugging Face layout), found by load_classifier
    card_path = tmp_path / "tiny.model_card.md"
    assert clf.model_card == card_path and "model_card=" in repr(clf)
    card = card_path.read_text()
    assert card.startswith("---\nlibrary_name: keras\n") and "\n---\n" in card
    for section in ("## Model", "### Departures from the paper", "## Training data", "## Metrics",
                    "## Shortcut warnings", "## Intended use"):
        assert f"\n{section}\n" in card, section
    assert "Not a medical device" in card and "Data hazards (from the run)" in card
    pooled = pd.read_csv(tiny_run.run_dir / "results_pooled_ci.csv", index_col=0)
    assert f"{pooled.iloc[0, 0]:.4f}" in card  # the run's own pooled metrics with their intervals


def test_explain_run_writes_overlays(tiny_run, tmp_path):
    paths, _ = _fold_test_images(tiny_run.run_dir, 0, 2)
    assert _cli("explain", "--run", tiny_run.run_dir, "--fold", "0", "--out", tmp_path / "cams", *paths) == 0
    assert len(list((tmp_path / "cams").glob("*.png"))) >= 2


def test_api_errors_name_the_api_arguments_not_the_cli_options(tiny_run):
    import cxr_core
    from cxr_core.errors import CxrError

    with pytest.raises(CxrError) as info:
        cxr_core.load_classifier(tiny_run.run_dir, fold=7)
    text = str(info.value)
    assert "fold=7" in text and "--fold" not in text and "finished: 0, 1" in text

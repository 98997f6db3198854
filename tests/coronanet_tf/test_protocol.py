"""CORONA-Net end to end on real X-rays (smoke size): both phases through the fixed-split protocol.

The four cxr4-mini classes are mapped onto COVIDx's three (covid -> COVID-19, normal -> normal,
pneumonia_* -> pneumonia) with ``data.label_map``; a small train and test manifest stand in for
COVIDx's split files. Input stays 224x224 (the decoder's size); one step per phase.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from cxr_core.config.experiment import load_config, replace, smoke_overrides
from cxr_core.protocol.run import run_protocol
from tests.log_capture import captured_logs

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # two-phase 224x224 training end to end

LABEL_MAP = {"covid": "COVID-19", "normal": "normal", "pneumonia_bacterial": "pneumonia", "pneumonia_viral": "pneumonia"}


@pytest.fixture(scope="module")
def covidx_like(cxr4_mini, tmp_path_factory):
    """train.csv (2 per cxr4 class: 2 COVID-19, 2 normal, 4 pneumonia), test.csv (2 COVID-19, 2 normal,
    1 + 1 pneumonia) and test_dup.csv (test.csv with one row repeated, like test_split_v2)."""
    manifest = pd.read_csv(cxr4_mini / "MANIFEST.csv")
    root = tmp_path_factory.mktemp("covidx_like")
    train, test = [], []
    for name, group in manifest.groupby("class", sort=True):
        train.append(group.iloc[:2])
        test.append(group.iloc[2:4] if name in ("covid", "normal") else group.iloc[2:3])
    train_df = pd.concat(train)[["path", "class", "patient_id"]]
    test_df = pd.concat(test)[["path", "class", "patient_id"]]
    train_df.to_csv(root / "train.csv", index=False)
    test_df.to_csv(root / "test.csv", index=False)
    pd.concat([test_df, test_df.iloc[:1]]).to_csv(root / "test_dup.csv", index=False)
    return root


def _cfg(yaml_name: str, data_root: Path, cxr4_mini: Path, test_file: str):
    cfg = load_config(REPO / "experiments/coronanet" / yaml_name)
    cfg = replace(cfg, smoke_overrides(cfg))
    return replace(cfg, {
        "data": {"source": str(data_root / "train.csv"), "test_source": str(data_root / test_file),
                 "format": "manifest", "image_dir": str(cxr4_mini), "test_image_dir": str(cxr4_mini),
                 "label_map": LABEL_MAP},
        "model": {"backbone_weights": None},
        "train": {"batch_size": 2, "steps_per_epoch": 1, "validation_steps": 1},
        "evaluation": {"n_bootstrap": 20},
    })


@pytest.fixture(scope="module")
def authors_run(covidx_like, cxr4_mini, tmp_path_factory):
    cfg = _cfg("covidx.yaml", covidx_like, cxr4_mini, "test.csv")
    with captured_logs() as logs:
        run_dir = run_protocol(cfg, tmp_path_factory.mktemp("runs") / "authors", smoke=True)
    return cfg, run_dir, logs


def _layer_weights(path: Path, with_decoder: bool) -> dict[str, list[np.ndarray]]:
    from coronanet_tf import build_coronanet

    model = build_coronanet(num_classes=3, with_decoder=with_decoder)
    model.load_weights(path)
    return {layer.name: layer.get_weights() for layer in model.layers if layer.weights}


def test_smoke_keeps_224_and_uses_the_papers_settings(authors_run):
    cfg, run_dir, _ = authors_run
    assert tuple(cfg.preprocess.image_size) == (224, 224), "the decoder reconstructs 224x224: no tiny smoke input"
    assert cfg.extra["coronanet"]["reinit"]["epochs"] == 1 and cfg.train.epochs == 1
    record = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert record["config"]["train"]["optimizer"]["name"] == "adam_l2"
    assert record["class_names"] == ["COVID-19", "normal", "pneumonia"]  # the authors' order [CR-A]


def test_run_directory_holds_both_phases_and_the_report(authors_run):
    cfg, run_dir, logs = authors_run
    fold = run_dir / "fold_0"
    for rel in ("phase1/training_log.csv", "phase1/model.weights.h5",
                "phase2/training_log.csv", "phase2/model.weights.h5",
                "predictions.csv", "metrics.csv", "confusion_matrix.png"):
        assert (fold / rel).is_file(), f"{fold / rel} missing"
    # a finished fold keeps one weights file per phase, no optimizer state (cxr_core.training.checkpoints)
    assert sorted(p.relative_to(fold).as_posix() for p in fold.rglob("*.weights.h5")) == [
        "phase1/model.weights.h5", "phase2/model.weights.h5"]
    phase1 = pd.read_csv(fold / "phase1/training_log.csv")
    assert len(phase1) == 1 and "accuracy" not in phase1.columns and np.isfinite(phase1["loss"]).all()
    phase2 = pd.read_csv(fold / "phase2/training_log.csv")
    assert len(phase2) == 1 and {"accuracy", "val_accuracy", "loss"} <= set(phase2.columns)
    preds = pd.read_csv(fold / "predictions.csv")
    assert len(preds) == 6
    assert preds["label"].value_counts().to_dict() == {"COVID-19": 2, "normal": 2, "pneumonia": 2}
    probs = preds[[f"prob_{c}" for c in ("COVID-19", "normal", "pneumonia")]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    split = pd.read_csv(run_dir / "splits/fold_0.csv")
    assert set(split["role"]) == {"train", "test"}  # validation = the test set (test_fold) [CR]
    report = (run_dir / "report.md").read_text()
    assert "coronanet/table5_ppv" in report and "PPV" in report
    # a smoke run: the project page's confusion matrix beside ours, stamped (coronanet_tf.report_figures)
    assert (run_dir / "confusion_matrix_project_page.png").is_file()
    assert "![confusion_matrix_project_page.png](confusion_matrix_project_page.png)" in report
    assert "stamped REFERENCE ONLY" in report
    assert any("fold 0: test accuracy" in line for line in logs)


def test_phase2_starts_from_phase1_and_keeps_its_decoder(authors_run):
    _, run_dir, _ = authors_run
    fold = run_dir / "fold_0"
    phase1 = _layer_weights(fold / "phase1/model.weights.h5", with_decoder=True)
    phase2 = _layer_weights(fold / "phase2/model.weights.h5", with_decoder=True)  # the config's model
    for name in phase1:
        if name.startswith("dec_"):  # no loss reaches the decoder in phase 2 [CR]
            for a, b in zip(phase1[name], phase2[name]):
                np.testing.assert_array_equal(a, b, err_msg=name)
    # one step at lr ~1e-6 (warm-up): phase 2 is phase 1 plus a tiny change, not a fresh model
    for name in ("net_fet_0", "nscnn_0", "classifier_6"):
        np.testing.assert_allclose(phase2[name][0], phase1[name][0], atol=1e-4, err_msg=name)
    from coronanet_tf import build_coronanet

    fresh = build_coronanet(num_classes=3, with_decoder=True).get_layer("net_fet_0").get_weights()[0]
    assert np.abs(fresh - phase2["net_fet_0"][0]).max() > 1e-2


def test_a_finished_run_is_not_trained_again(authors_run):
    """The protocol skips the finished fold; fit_phases on finished phases trains nothing."""
    import tensorflow as tf

    from coronanet_tf import FAMILY
    from cxr_core.models.build import model_builder

    cfg, run_dir, _ = authors_run
    fold = run_dir / "fold_0"
    with captured_logs() as logs:
        run_protocol(cfg, run_dir, smoke=True)
    assert any("finished earlier, skipped" in line for line in logs)

    watched = [fold / p for p in ("phase1/training_log.csv", "phase1/model.weights.h5",
                                  "phase2/model.weights.h5", "phase2/training_log.csv")]
    stamps = [p.stat().st_mtime_ns for p in watched]

    def data(first_epoch):  # never iterated: both phases are finished
        return tf.data.Dataset.from_tensors((tf.zeros((1, 224, 224, 3)), tf.zeros((1, 3))))

    # the factory the protocol hands a family's fit (cxr_core.protocol.run.fit_fold)
    result = FAMILY.training.fit(cfg, model_builder(cfg, 3), data, data, fold)
    assert [p.stat().st_mtime_ns for p in watched] == stamps, "a finished phase was trained again"
    assert result.weights_path == fold / "phase2/model.weights.h5" and result.epochs_done == 1


def test_paper_preset_removes_the_decoder_and_validates_on_the_training_data(covidx_like, cxr4_mini, tmp_path):
    cfg = _cfg("covidx_paper.yaml", covidx_like, cxr4_mini, "test_dup.csv")
    cfg = replace(cfg, {"protocol": {"inner_val_fraction": 0.25}})  # at least one of the 8 training images
    assert cfg.data.drop_duplicates and cfg.augment.enabled and cfg.augment.rotation_range == 45.0
    run_dir = run_protocol(cfg, tmp_path / "paper", smoke=True)
    fold = run_dir / "fold_0"
    split = pd.read_csv(run_dir / "splits/fold_0.csv")
    assert (split["role"] == "val").sum() >= 1 and (split["role"] == "test").sum() == 6  # duplicate dropped
    preds = pd.read_csv(fold / "predictions.csv")
    assert [c for c in preds.columns if c.startswith("prob_")] == ["prob_normal", "prob_pneumonia", "prob_COVID-19"]
    phase1 = _layer_weights(fold / "phase1/model.weights.h5", with_decoder=True)
    phase2 = _layer_weights(fold / "phase2/model.weights.h5", with_decoder=False)
    assert not any(name.startswith("dec_") for name in phase2)
    np.testing.assert_allclose(phase2["net_fet_40"][0], phase1["net_fet_40"][0], atol=1e-4)

"""The covid-cxr command: predict and evaluate against the authors' own inference, cv in smoke mode."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxr_core.cli import build_parser, main

REPO = Path(__file__).resolve().parents[2]
CLASSES = ("covid", "normal", "pneumonia_bac", "pneumonia_vir")


@pytest.fixture(scope="module")
def authors_model_file(tmp_path_factory):
    """A CoroNet saved the authors' way: tf_keras Sequential(Xception, Flatten, Dropout, Dense, Dense) [CN]."""
    import tf_keras

    tf_keras.utils.set_random_seed(11)
    base = tf_keras.applications.Xception(weights=None, include_top=False, input_shape=(150, 150, 3))
    model = tf_keras.Sequential(
        [base, tf_keras.layers.Flatten(), tf_keras.layers.Dropout(0.5),
         tf_keras.layers.Dense(256, activation="relu"), tf_keras.layers.Dense(4, activation="softmax")]
    )
    last = model.layers[-1]
    kernel, bias = last.get_weights()
    last.set_weights([kernel * 300.0, bias])  # spread the random-weight outputs away from uniform
    path = tmp_path_factory.mktemp("authors") / "4-class-Covid19-Mod-Xception.h5"
    model.save(path)
    return path, model


def test_every_subcommand_documents_its_options():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name in ("demo", "train", "cv", "evaluate", "predict", "report", "convert"):
        assert name in sub.choices, name
        for action in sub.choices[name]._actions:
            if action.dest != "help":
                assert action.help, f"covid-cxr {name}: option {action.dest} has no help text"


def test_predict_matches_the_authors_test_generator(authors_model_file, cxr4_mini, capsys):
    from keras_preprocessing.image import ImageDataGenerator

    path, reference = authors_model_file
    # The authors' evaluation: ImageDataGenerator(rescale=1/255).flow_from_directory(150x150, nearest) [CN]
    gen = ImageDataGenerator(rescale=1.0 / 255).flow_from_directory(
        str(cxr4_mini), target_size=(150, 150), batch_size=8, shuffle=False, class_mode="categorical"
    )
    files = [cxr4_mini / f for f in gen.filenames[::24]]
    x = np.stack([gen.image_data_generator.standardize(
        np.asarray(__import__("keras_preprocessing.image", fromlist=["load_img"]).load_img(f, target_size=(150, 150)),
                   dtype="float32")) for f in files])
    expected = reference.predict(x, verbose=0)
    assert main(["predict", "--model", "coronet", "--weights", str(path), *map(str, files)]) == 0
    lines = [l for l in capsys.readouterr().out.splitlines() if "\t" in l]
    assert len(lines) == len(files)
    got = np.array([[float(t.split("=")[1]) for t in line.split("\t")[2].split()] for line in lines])
    np.testing.assert_allclose(got, expected, atol=1e-4)  # printed with 4 decimals
    assert [l.split("\t")[1] for l in lines] == [CLASSES[i] for i in expected.argmax(1)]


def test_evaluate_writes_tables_that_agree_with_the_predictions(authors_model_file, cxr4_mini, tmp_path):
    path, _ = authors_model_file
    manifest = pd.read_csv(cxr4_mini / "MANIFEST.csv").groupby("class").head(3)
    manifest["path"] = [str(cxr4_mini / p) for p in manifest["path"]]
    manifest["class"] = manifest["class"].replace({"pneumonia_bacterial": "pneumonia_bac", "pneumonia_viral": "pneumonia_vir"})
    small = tmp_path / "small.csv"
    manifest[["path", "class", "patient_id"]].to_csv(small, index=False)
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", "coronet", "--weights", str(path), "--data", str(small),
                 "--out", str(out), "--n-bootstrap", "50"]) == 0
    metrics = pd.read_csv(out / "metrics.csv", index_col=0)
    preds = pd.read_csv(out / "predictions.csv")
    assert list(metrics.index) == [*CLASSES, "macro", "weighted"]
    assert len(preds) == 12
    from sklearn.metrics import precision_recall_fscore_support

    p, r, f, _ = precision_recall_fscore_support(preds["label_index"], preds["predicted_index"], labels=range(4), zero_division=0)
    np.testing.assert_allclose(metrics.loc[list(CLASSES), "recall"], r)
    np.testing.assert_allclose(metrics.loc[list(CLASSES), "precision"], p)
    for name in ("confusion_matrix.png", "confusion_matrix_normalized.png", "metrics.md", "metrics_ci.csv"):
        assert (out / name).is_file()


def test_bad_weight_file_is_a_clear_error(tmp_path, capsys, cxr4_mini):
    bogus = tmp_path / "not-a-model.h5"
    bogus.write_bytes(b"not hdf5")
    image = next((cxr4_mini / "covid").iterdir())
    assert main(["predict", "--model", "coronet", "--weights", str(bogus), str(image)]) == 2
    assert "not-a-model.h5" in capsys.readouterr().err


def test_cv_smoke_run_of_the_coronet_experiment_on_cxr4_mini(cxr4_mini, tmp_path):
    run = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "cxr_core.cli", "cv", str(REPO / "experiments/coronet/4class.yaml"),
         "--data", str(cxr4_mini), "--smoke", "--folds", "0", "--run-dir", str(run),
         "--set", "model.backbone_weights=null"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "capped at the images available" in proc.stdout
    assert (run / "fold_0" / "predictions.csv").is_file() and (run / "report.md").is_file()
    assert "SMOKE RUN" in (run / "report.md").read_text()
    assert len(pd.read_csv(run / "samples.csv")) == 192


def test_train_makes_one_holdout_model(cxr4_mini, tmp_path):
    manifest = pd.read_csv(cxr4_mini / "MANIFEST.csv").groupby("class").head(10)
    manifest["path"] = [str(cxr4_mini / p) for p in manifest["path"]]
    manifest[["path", "class", "patient_id"]].to_csv(tmp_path / "m.csv", index=False)
    run = tmp_path / "run"
    code = main(["train", str(REPO / "experiments/coronet/4class.yaml"), "--data", str(tmp_path / "m.csv"),
                 "--smoke", "--run-dir", str(run), "--holdout", "0.25"])
    assert code == 0
    roles = pd.read_csv(run / "splits" / "fold_0.csv")["role"].value_counts().to_dict()
    assert roles == {"train": 30, "test": 10}, roles
    assert (run / "fold_0" / "checkpoints" / "last.weights.h5").is_file()
    assert not (run / "splits" / "fold_1.csv").exists()

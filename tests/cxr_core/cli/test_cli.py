"""The covid-cxr command: predict and evaluate against the authors' own inference, cv in smoke mode."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxr_core.cli.main import build_parser, main

REPO = Path(__file__).resolve().parents[3]
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
    for name in ("demo", "train", "cv", "evaluate", "predict", "report", "convert", "explain", "export"):
        assert name in sub.choices, name
        for action in sub.choices[name]._actions:
            if action.dest != "help":
                assert action.help, f"covid-cxr {name}: option {action.dest} has no help text"


@pytest.mark.slow
def test_predict_matches_the_authors_test_generator(authors_model_file, cxr4_mini, capsys, tmp_path):
    from keras_preprocessing.image import ImageDataGenerator, load_img
    from PIL import Image

    path, reference = authors_model_file
    # The authors' evaluation: ImageDataGenerator(rescale=1/255).flow_from_directory(150x150, nearest) [CN],
    # on a folder of the data set's 224x224 files (the preset's pre-resize, bicubic INFERRED [S4]).
    gen = ImageDataGenerator(rescale=1.0 / 255).flow_from_directory(
        str(cxr4_mini), target_size=(150, 150), batch_size=8, shuffle=False, class_mode="categorical"
    )
    files = [cxr4_mini / f for f in gen.filenames[::24]]
    folder_224 = []
    for k, f in enumerate(files):
        resized = tmp_path / f"{k}.png"
        Image.open(f).convert("RGB").resize((224, 224), Image.BICUBIC).save(resized)
        folder_224.append(resized)
    x = np.stack([gen.image_data_generator.standardize(np.asarray(load_img(f, target_size=(150, 150)), dtype="float32"))
                  for f in folder_224])
    expected = reference.predict(x, verbose=0)
    assert main(["predict", "--model", "coronet", "--weights", str(path), *map(str, files)]) == 0
    lines = [l for l in capsys.readouterr().out.splitlines() if "\t" in l]
    assert len(lines) == len(files)
    got = np.array([[float(t.split("=")[1]) for t in line.split("\t")[2].split()] for line in lines])
    np.testing.assert_allclose(got, expected, atol=1e-4)  # printed with 4 decimals
    assert [l.split("\t")[1] for l in lines] == [CLASSES[i] for i in expected.argmax(1)]


@pytest.mark.slow
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


@pytest.mark.slow
def test_cv_smoke_run_of_the_coronet_experiment_on_cxr4_mini(cxr4_mini, tmp_path):
    run = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "cxr_core.cli.main", "cv", str(REPO / "experiments/coronet/4class.yaml"),
         "--data", str(cxr4_mini), "--smoke", "--folds", "0", "--run-dir", str(run),
         "--set", "model.backbone_weights=null"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "capped at the images available" in proc.stderr, "progress is logged (stderr), results printed (stdout)"
    assert "fold 0: test accuracy" in proc.stderr
    assert (run / "fold_0" / "predictions.csv").is_file() and (run / "report.md").is_file()
    assert "SMOKE RUN" in (run / "report.md").read_text()
    assert len(pd.read_csv(run / "samples.csv")) == 192


@pytest.mark.slow
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


# ----------------------------------------------------------------------------------- explain, export
@pytest.fixture(scope="module")
def small_coronet(tmp_path_factory):
    """A random-weight CoroNet at 71x71, saved as our .weights.h5, and a config naming that size."""
    import keras

    from coronet_tf import build_coronet

    keras.utils.set_random_seed(0)
    model = build_coronet(4, (71, 71, 3))
    root = tmp_path_factory.mktemp("small_coronet")
    model.save_weights(root / "w.weights.h5")
    config = root / "exp.yaml"
    config.write_text("name: t\npreset: coronet/authors_code\npreprocess: {image_size: [71, 71]}\n")
    return model, root / "w.weights.h5", config


@pytest.mark.slow
def test_cli_explain_writes_one_overlay_per_image(small_coronet, cxr4_mini, tmp_path, capsys):
    _, weights, config = small_coronet
    image = sorted((cxr4_mini / "covid").glob("*.png"))[0]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    assert main(["explain", "--config", str(config), "--weights", str(weights), "--out", str(tmp_path / "cli"),
                 "--skip-bad", str(image), str(broken)]) == 0
    out = tmp_path / "cli" / f"{image.stem}_gradcam.png"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    captured = capsys.readouterr()
    assert captured.out.split() == [str(out)] and f"SKIPPED {broken}" in captured.err


@pytest.mark.slow
def test_cli_export_reloads_with_the_same_predictions(small_coronet, tmp_path, capsys):
    import keras

    from cxr_core.inference.export import sample_inputs

    model, weights, config = small_coronet
    assert main(["export", "--config", str(config), "--weights", str(weights), "--format", "keras",
                 str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-1] == str(tmp_path / "out.keras") and printed[0].endswith("out.model_card.md")
    reloaded = keras.models.load_model(tmp_path / "out.keras", compile=False)
    x = sample_inputs(model, 2)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


@pytest.mark.slow
def test_quiet_and_verbose_set_the_log_level(small_coronet, tmp_path, capsys):
    import logging

    _, weights, config = small_coronet
    args = ["export", "--config", str(config), "--weights", str(weights), "--no-verify", str(tmp_path / "o")]
    assert main(["--quiet", *args]) == 0
    assert logging.getLogger("cxr_core").level == logging.WARNING
    assert "exported" not in capsys.readouterr().err
    assert main([*args, "--verbose"]) == 0  # accepted after the subcommand too
    assert logging.getLogger("cxr_core").level == logging.DEBUG
    assert main(args) == 0
    assert "exported" in capsys.readouterr().err and logging.getLogger("cxr_core").level == logging.INFO
    with pytest.raises(SystemExit):
        build_parser().parse_args(["-q", "-v", *args])

"""Issue 10's options wired into a run, end to end with the tiny test family (tests/tiny_family.py):
Keras 2's validation_split, Keras 2's steps per epoch, a fixed validation source, the separate test
set an authors'-code run needs, and ``--init-from`` chains."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from cxr_core.config.experiment import resolve_config
from tests.tiny_family import write_separable_dataset

pytestmark = [pytest.mark.slow,  # each test trains the tiny CNN for an epoch or two
              pytest.mark.usefixtures("tiny_family")]


def _drop(root: Path, keep: dict[str, int]) -> Path:
    """Keep the first ``n`` files (unsorted names) of each class folder: awkward per-class counts."""
    for cls, n in keep.items():
        for path in sorted((root / cls).iterdir())[n:]:
            path.unlink()
    return root


def _cfg(preset="tinycnn/paper", **sections):
    base = {"preset": preset, "train": {"epochs": 1, "batch_size": 4},
            "evaluation": {"n_bootstrap": 10}}
    for key, value in sections.items():
        base[key] = {**base.get(key, {}), **value}
    return resolve_config(base)


def _roles(run: Path, fold: int = 0) -> pd.DataFrame:
    return pd.read_csv(run / "splits" / f"fold_{fold}.csv", dtype=str, keep_default_na=False)


# ----------------------------------------------------------------------------------- validation_split
def test_keras_validation_split_runs_validate_on_keras_preprocessings_subset(tmp_path):
    """fixed_split + inner_split + keras_validation_split (CoroNet's authors' code [CN]): the validation
    rows of the run are keras-preprocessing's ``flow_from_directory(subset='validation')`` files."""
    from keras_preprocessing.image import ImageDataGenerator

    from cxr_core.protocol.run import run_protocol

    train = tmp_path / "train"
    write_separable_dataset(train, per_class=14, seed=1)
    _drop(train, {"bright": 7, "checkered": 11, "dark": 14})
    test = tmp_path / "test"
    write_separable_dataset(test, per_class=3, seed=2, prefix="t")
    cfg = _cfg(data={"source": str(train), "test_source": str(test)},
               protocol={"kind": "fixed_split", "validation": "inner_split", "inner_val_fraction": 0.2,
                         "split_style": "keras_validation_split", "seed": 3})
    run = run_protocol(cfg, tmp_path / "run", write_report=False)
    roles = _roles(run)
    reference = ImageDataGenerator(validation_split=0.2).flow_from_directory(
        str(train), target_size=(8, 8), subset="validation", shuffle=False)
    val_ids = sorted(roles.loc[roles["role"] == "val", "sample_id"].str.replace("train/", "", regex=False))
    assert val_ids == sorted(f.replace(os.sep, "/") for f in reference.filenames)
    assert len(val_ids) == int(0.2 * 7) + int(0.2 * 11) + int(0.2 * 14) == 5
    assert (roles["role"] == "test").sum() == 9  # the separate test folder, never the validation part

    # a holdout run with the same style tests on that same Keras validation subset
    held = _cfg(data={"source": str(train)}, protocol={"kind": "holdout", "holdout_fraction": 0.2,
                                                        "split_style": "keras_validation_split"})
    from cxr_core.protocol.experiment_data import load_samples
    from cxr_core.protocol.split_files import fold_assignments

    table = load_samples(held)
    test_ids = sorted(table.frame["sample_id"][fold_assignments(held, table) == 1])
    assert test_ids == val_ids


# ----------------------------------------------------------------------------------- steps_mode
@pytest.mark.parametrize("mode", ["keras2_floor_wraparound", "tf_keras_floor_restart"])
def test_steps_mode_takes_n_floor_batch_steps(tmp_path, monkeypatch, mode):
    """A run with Keras 2's steps takes n // batch steps per epoch (27 // 4 = 6, 6 // 4 = 1 validation step)
    over the Keras 2 stream: partial batches stay batches of the stream (7 batches per pass)."""
    import cxr_core.training.fit as training
    from cxr_core.protocol.run import run_protocol

    data = tmp_path / "d"
    write_separable_dataset(data, per_class=11, seed=0)
    test = tmp_path / "t"
    write_separable_dataset(test, per_class=2, seed=5, prefix="t")
    seen = {}
    real = training.fit_split

    def spy(build, make_train, make_val, out_dir, train_cfg, **kw):
        seen.update(steps=kw["steps_per_epoch"], val_steps=kw["validation_steps"])
        seen["train_sizes"] = [int(x.shape[0]) for x, _ in make_train(0)]
        seen["val_sizes"] = [[int(x.shape[0]) for x, _ in make_val(0)] for _ in range(2)]
        return real(build, make_train, make_val, out_dir, train_cfg, **kw)

    monkeypatch.setattr(training, "fit_split", spy)
    cfg = _cfg(data={"source": str(data), "test_source": str(test)},
               train={"epochs": 2, "steps_mode": mode, "steps_per_epoch": None},  # the preset's fixed steps off
               protocol={"kind": "fixed_split", "validation": "inner_split", "inner_val_fraction": 0.2,
                         "split_style": "keras_validation_split"})
    run = run_protocol(cfg, tmp_path / "run", write_report=False)
    assert (seen["steps"], seen["val_steps"]) == (27 // 4, 6 // 4)
    sizes = seen["train_sizes"]
    assert len(sizes) == 2 * 6  # epochs x steps, nothing more
    if mode == "keras2_floor_wraparound":
        assert sorted(sizes[:7]) == [3, 4, 4, 4, 4, 4, 4]  # one whole pass first, its partial batch included
    else:
        assert sum(sizes[:6]) >= 23 and sum(sizes[6:]) >= 23  # each epoch: 6 batches of a fresh pass
    assert all(len(w) == 1 for w in seen["val_sizes"])
    log = pd.read_csv(run / "fold_0" / "training_log.csv")
    assert len(log) == 2 and "val_loss" in log.columns


# ----------------------------------------------------------------------------------- validation_source
def test_fixed_split_with_a_validation_source(tmp_path):
    from cxr_core.protocol.run import run_protocol

    train, valid, test = (tmp_path / n for n in ("train", "valid", "test"))
    write_separable_dataset(train, per_class=4, seed=0)
    write_separable_dataset(valid, per_class=2, seed=1)  # same file names as train: prefixed ids
    write_separable_dataset(test, per_class=2, seed=2, prefix="t")
    cfg = _cfg(data={"source": str(train), "test_source": str(test), "validation_source": str(valid)},
               protocol={"kind": "fixed_split", "validation": "validation_source"})
    run = run_protocol(cfg, tmp_path / "run", write_report=False)
    roles = _roles(run)
    assert roles.groupby("role").size().to_dict() == {"train": 12, "val": 6, "test": 6}
    assert all(s.startswith("val/") for s in roles.loc[roles["role"] == "val", "sample_id"])
    digest = yaml.safe_load((run / "config.yaml").read_text())["data_manifest_sha256"]
    # the validation set is fingerprinted like the training data: another valid set, another run
    (valid / "dark" / "img_dark_00.png").unlink()
    from cxr_core.runs.directory import RunDirectoryError

    with pytest.raises(RunDirectoryError, match="made from other data"):
        run_protocol(cfg, run, write_report=False)
    without = _cfg(data={"source": str(train), "test_source": str(test)},
                   protocol={"kind": "fixed_split", "validation": "none"})
    other = run_protocol(without, tmp_path / "run2", write_report=False)
    assert yaml.safe_load((other / "config.yaml").read_text())["data_manifest_sha256"] != digest


@pytest.mark.parametrize("sections, message", [
    ({"protocol": {"kind": "fixed_split", "validation": "inner_split"}},
     r"fixed_split, which tests on a separate test set.*give --test-data DIR \(data.test_source\).*never tests on "
     r"its validation split"),
    ({"data": {"test_source": "T"}, "protocol": {"kind": "fixed_split", "validation": "validation_source"}},
     r"give --val-data DIR \(data.validation_source\)"),
    ({"data": {"validation_source": "V"}, "protocol": {"kind": "kfold", "validation": "validation_source"}},
     r"validation data of a fixed split.*protocol.kind is kfold"),
    ({"extra": {"required": ["model.init_from"]}}, r"model.init_from is not set: give --init-from"),
])
def test_missing_inputs_stop_the_run_before_reading_images(tmp_path, sections, message):
    from cxr_core.protocol.run import run_protocol

    cfg = _cfg(data={"source": str(tmp_path / "does-not-exist"), **sections.get("data", {})},
               **{k: v for k, v in sections.items() if k != "data"})
    with pytest.raises(ValueError, match=message):
        run_protocol(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_authors_code_preset_alone_needs_the_test_folder(tmp_path, capsys, cxr4_mini):
    """Issue 10 item 5: ``covid-cxr train`` with the CoroNet authors_code preset and no experiment YAML's
    ``--test-data`` stops with a message in CLI terms (never tests on the 20% validation split)."""
    from cxr_core.cli.main import main

    minimal = tmp_path / "minimal.yaml"
    minimal.write_text("name: minimal\npreset: coronet/authors_code\n")
    for argv in (["train", str(minimal), "--data", str(cxr4_mini)],
                 ["cv", str(minimal), "--data", str(cxr4_mini), "--set", "preset=coronet/authors_code"]):
        assert main([*argv, "--run-dir", str(tmp_path / "r")]) == 2
        err = capsys.readouterr().err
        assert "give --test-data DIR (data.test_source)" in err and "never tests on its validation split" in err
    assert not (tmp_path / "r").exists()


# ----------------------------------------------------------------------------------- --init-from
def _weights(path: Path) -> list[np.ndarray]:
    from tests.tiny_family import build_tiny

    model = build_tiny(3)
    model.load_weights(path)
    return model.get_weights()


def test_init_from_a_run_directory(tmp_path):
    """A one-split run is the final model of a fixed-split fine-tuning run; a k-fold run gives fold k to
    fold k; a k-fold run for a one-split run must name its fold; each fold's start is in the report."""
    from cxr_core.protocol.run import run_protocol

    data = tmp_path / "d"
    write_separable_dataset(data, per_class=6, seed=0)
    test = tmp_path / "t"
    write_separable_dataset(test, per_class=2, seed=3)  # the source's file names: its training images, in effect
    source = run_protocol(_cfg(data={"source": str(data)}, protocol={"kind": "holdout", "holdout_fraction": 0.3}),
                          tmp_path / "src", write_report=False)
    selected = source / "fold_0" / (source / "fold_0" / "selected_weights.txt").read_text().strip()
    # a learning rate too small to move the weights: the fine-tuned model is the source model
    tune = _cfg("tinycnn/authors_code", data={"source": str(data), "test_source": str(test)},
                protocol={"kind": "fixed_split", "validation": "none"},
                train={"optimizer": {"name": "adam", "learning_rate": 1e-12}},
                model={"init_from": str(source)})
    run = run_protocol(tune, tmp_path / "tuned")
    note = (run / "fold_0" / "init_from.txt").read_text()
    assert f"the final model of run {source}" in note and str(selected) in note
    assert "WARNING" in note  # these test ids trained the source model
    for a, b in zip(_weights(selected), _weights(run / "fold_0" / "checkpoints" / "last.weights.h5")):
        np.testing.assert_allclose(a, b, atol=1e-6)
    report = (run / "report.md").read_text()
    assert "started from the final model of run" in report
    assert "protocol.n_folds: test-only: 2 folds" in report  # the preset's notes reach the report

    kfold = run_protocol(_cfg(data={"source": str(data)}, protocol={"kind": "kfold", "n_folds": 2}),
                         tmp_path / "k", write_report=False)
    again = _cfg(data={"source": str(data)}, protocol={"kind": "kfold", "n_folds": 2, "seed": 42},
                 model={"init_from": str(kfold)})
    chained = run_protocol(again, tmp_path / "k2", folds=[1], write_report=False)
    assert f"fold 1 of run {kfold} (same protocol" in (chained / "fold_1" / "init_from.txt").read_text()
    assert "WARNING" not in (chained / "fold_1" / "init_from.txt").read_text()  # same splits: no test leak
    with pytest.raises(ValueError, match=r"a 2-fold run.*no single final model.*fold_K"):
        run_protocol(replace_init(tune, str(kfold)), tmp_path / "bad")
    fold_dir = run_protocol(replace_init(tune, str(kfold / "fold_1")), tmp_path / "fold1", write_report=False)
    assert f"fold_1 of run {kfold}" in (fold_dir / "fold_0" / "init_from.txt").read_text()


def replace_init(cfg, init_from: str):
    from cxr_core.config.experiment import replace

    return replace(cfg, {"model": {"init_from": init_from}})


def test_cli_options_set_the_config_keys():
    from cxr_core.cli.main import build_parser
    from cxr_core.cli.options import config_overrides

    args = build_parser().parse_args(["cv", "x.yaml", "--data", "D", "--test-data", "T", "--val-data", "V",
                                      "--init-from", "R"])
    assert config_overrides(args) == {
        "data": {"source": "D", "test_source": "T", "validation_source": "V"},
        "protocol": {"validation": "validation_source"},
        "model": {"init_from": "R"},
    }


# ----------------------------------------------------------------------------------- pre_resize
@pytest.mark.parametrize("name, size", [("coronet/4class.yaml", 150), ("coronet/4class_224.yaml", 224)])
def test_paper_experiment_reads_images_in_two_steps_as_pil(cxr4_mini_raw, name, size):
    """Issue 10 items 2-3: the paper's experiment reads an image as PIL resizing it to 224x224 (bicubic,
    the INFERRED data-set resize [S4]) and Keras' nearest to the model input [CN], through the run's
    own pipeline spec (cxr_core.protocol.experiment_data.pipeline_spec)."""
    from PIL import Image

    from cxr_core.config.experiment import load_config
    from cxr_core.data.pipeline import build_dataset
    from cxr_core.data.tables.readers import read_samples
    from cxr_core.protocol.experiment_data import pipeline_spec

    cfg = load_config(Path(__file__).resolve().parents[3] / "experiments" / name)
    spec = pipeline_spec(cfg)
    assert spec.pre_resize == (224, 224, "bicubic") and spec.image_size == (size, size)
    table = read_samples(str(cxr4_mini_raw / "MANIFEST.csv"))
    table = table.subset(np.arange(min(6, len(table))))
    x = np.concatenate([b.numpy() for b, _ in build_dataset(table, spec, batch_size=8)])
    for got, path in zip(x, table.frame["path"]):
        with Image.open(path) as img:
            first = img.convert("RGB").resize((224, 224), Image.Resampling.BICUBIC)
        want = np.asarray(first.resize((size, size), Image.Resampling.NEAREST), dtype=np.float32) / 255.0
        np.testing.assert_array_equal(got, want, err_msg=str(path))

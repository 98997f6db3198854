"""Bad input, one kind per test (issue 11, part 3), built from ../shared/data images in tmp_path."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from cxr_core.config.experiment import ExperimentConfig
from cxr_core.data.tables.sample_table import SampleError
from cxr_core.data.tables.readers import read_class_folders
from cxr_core.data.tables.covidx import read_covidx_split
from cxr_core.data.tables.manifest import read_manifest_csv
from tests.cxr_core.data.source_fixtures import gray, write_dicom
from tests.log_capture import captured_logs
from tests.references import require


def _images(shared_data: Path, n: int, folder: str = "normal") -> list[Path]:
    return sorted(p for p in (shared_data / "cxr4-mini" / folder).iterdir() if p.is_file())[:n]


def _copy(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst


# ------------------------------------------------------------------ COVIDx rows, file names, listings
def test_covidx_patient_id_with_spaces_is_parsed_from_the_right(tmp_path, shared_data):
    a, b, c = _images(shared_data, 3)
    _copy(a, tmp_path / "COVID(1).png")
    _copy(b, tmp_path / "n1.png")
    _copy(c, tmp_path / "p 2.png")  # never read: the row below names "2.png"
    split = tmp_path / "train_COVIDx.txt"
    split.write_text("COVID 1 COVID(1).png COVID-19 sirm\n"   # id with a space, source column
                     "17 n1.png normal\n")                      # the plain 3-field row
    table = read_covidx_split(split)
    assert table.frame["patient_id"].tolist() == ["COVID 1", "17"]
    assert table.frame["sample_id"].tolist() == ["COVID(1).png", "n1.png"]
    assert table.frame["source"].tolist()[0] == "sirm"
    assert table.frame["label"].tolist() == ["COVID-19", "normal"]

    # Five fields and no class name among the last two: reported as it stands, no path invented.
    split.write_text("COVID 1 COVID(1).png covid sirm\n")
    with pytest.raises(SampleError, match=r"line 1: 5 fields .* neither of the last two is a class name"):
        read_covidx_split(split)


@pytest.mark.parametrize("name, why", [("../x.png", "'..' in the path"), ("/etc/x.png", "absolute path"),
                                       ("a/../../x.png", "'..' in the path"), ("C:\\x.png", "absolute path")])
def test_split_file_names_never_leave_the_image_folder(tmp_path, shared_data, name, why):
    images = tmp_path / "images"
    _copy(_images(shared_data, 1)[0], tmp_path / "x.png")  # exists just outside the image folder
    images.mkdir()
    split = images / "test_split.txt"
    split.write_text(f"p1 {name} normal\n")
    with pytest.raises(SampleError, match=rf"line 1: file name .* refused \({why}\)"):
        read_covidx_split(split)
    skipped = read_covidx_split(split, on_error="skip")
    assert len(skipped) == 0 and "refused" in skipped.skipped["reason"].iloc[0]


def test_manifest_rows_with_dotdot_are_refused_with_their_line(tmp_path, shared_data):
    _copy(_images(shared_data, 1)[0], tmp_path / "x.png")
    data = tmp_path / "data"
    _copy(_images(shared_data, 2)[1], data / "a.png")
    (data / "m.csv").write_text("path,label\na.png,normal\n../x.png,normal\n")
    with pytest.raises(SampleError, match=r"m.csv line 3: path '../x.png' refused \('..' in the path\)"):
        read_manifest_csv(data / "m.csv")


def test_raise_mode_lists_the_first_20_missing_files_and_the_count(tmp_path):
    split = tmp_path / "train.txt"
    split.write_text("".join(f"p{i} missing_{i:02d}.png normal\n" for i in range(25)))
    with pytest.raises(SampleError) as err:
        read_covidx_split(split)
    text = str(err.value)
    assert "25 problem(s) (first 20 listed)" in text and "... and 5 more" in text
    assert "missing_00.png" in text and "missing_19.png" in text and "missing_20.png" not in text
    assert "--set data.on_bad_file=skip" in text and "on_error=" not in text


def test_verify_lists_20_undecodable_files_with_the_option_to_skip(tmp_path, shared_data):
    from cxr_core.data.decode.images import verify_images

    root = tmp_path / "d"
    for i in range(22):
        (root / "normal").mkdir(parents=True, exist_ok=True)
        (root / "normal" / f"bad{i:02d}.png").write_text("not an image")
    _copy(_images(shared_data, 1)[0], root / "normal" / "good.png")
    with pytest.raises(ValueError) as err:
        verify_images(read_class_folders(root), skip_hint="give --skip-bad")
    text = str(err.value)
    assert "22 of 23 image files cannot be decoded (first 20 listed)" in text and "... and 2 more" in text
    assert "not an image: text file" in text and text.rstrip().endswith("give --skip-bad.")


# ------------------------------------------------------------------ skip that empties a class
def _cfg(source, **data) -> ExperimentConfig:
    cfg = ExperimentConfig()
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, source=str(source), **data))


def test_skip_that_leaves_a_class_without_images_stops_naming_it(tmp_path, shared_data):
    from cxr_core.protocol.experiment_data import load_samples

    root = tmp_path / "d"
    for src in _images(shared_data, 3):
        _copy(src, root / "normal" / src.name)
    for i in range(4):
        (root / "covid").mkdir(parents=True, exist_ok=True)
        (root / "covid" / f"c{i}.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(SampleError, match=r"class 'covid' has no images left: all 4 of its files were skipped"):
        load_samples(_cfg(root, on_bad_file="skip"))
    with pytest.raises(SampleError, match=r"test data \(data.test_source, --test-data\)"):
        load_samples(_cfg(root, on_bad_file="skip", test_source=str(root)), test=True)


# ------------------------------------------------------------------ 16-bit PNGs using 12 bits
def _png16(path: Path, values: np.ndarray, sbit: int | None = None) -> Path:
    import cv2

    assert cv2.imwrite(str(path), values.astype(np.uint16))
    if sbit is not None:  # insert an sBIT chunk after IHDR (8 + 25 bytes)
        data = path.read_bytes()
        body = b"sBIT" + bytes([sbit])
        chunk = struct.pack(">I", 1) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
        path.write_bytes(data[:33] + chunk + data[33:])
    return path


def test_12_bit_data_in_16_bit_pngs_is_detected_and_can_be_scaled(tmp_path, shared_data):
    import tensorflow as tf

    from cxr_core.data.decode.images import decode_to_uint8_rgb, warn_low_range_png16
    from cxr_core.data.decode.png16 import png16_note

    px = gray(_images(shared_data, 1)[0]).astype(np.int64)
    v12 = (px * 4095 + 127) // 255                              # 12-bit detector data, max 4095
    plain = _png16(tmp_path / "plain.png", v12)
    tagged = _png16(tmp_path / "tagged.png", v12 // 2, sbit=12)   # sBIT says 12 bits, max 2047
    full = _png16(tmp_path / "full.png", px * 257)                 # uses the whole range
    assert "maximum is 4095 of 65535" in png16_note(plain.read_bytes())
    assert "12 significant bits (sBIT chunk)" in png16_note(tagged.read_bytes())
    assert png16_note(full.read_bytes()) is None
    with captured_logs(level=logging.WARNING) as warnings:
        found = warn_low_range_png16([str(plain), str(tagged), str(full)])
    assert set(found) == {str(plain), str(tagged)}
    assert len(warnings) == 2 and "plain.png" in warnings[0] and "--set preprocess.png16=sbit" in warnings[0]

    def decode(path, mode):
        return decode_to_uint8_rgb(tf.constant(path.read_bytes()), mode).numpy()[..., 0].astype(np.int64)

    assert decode(plain, "scale257").max() == 16                     # today's rule: nearly black
    assert np.array_equal(decode(plain, "scale257"), (v12 + 128) // 257)
    assert np.array_equal(decode(plain, "sbit"), np.minimum((v12 * 510 + 4095) // 8190, 255))
    assert np.array_equal(decode(tagged, "sbit"), ((v12 // 2) * 510 + 4095) // 8190)  # 12 bits, not 11
    lo, hi = v12.min(), v12.max()
    assert np.array_equal(decode(plain, "minmax"), ((v12 - lo) * 510 + (hi - lo)) // (2 * (hi - lo)))
    assert np.array_equal(decode(full, "sbit"), px)                  # full range: unchanged by sbit


def test_png16_option_is_a_checked_config_field():
    from cxr_core.config.schema import ConfigError
    from cxr_core.config.experiment import resolve_config

    base = {"preset": "coronet/paper"}
    assert resolve_config(base).preprocess.png16 == "scale257"
    assert resolve_config({**base, "preprocess": {"png16": "sbit"}}).preprocess.png16 == "sbit"
    with pytest.raises(ConfigError, match="preprocess.png16: 'scale' is not one of scale257, sbit, minmax"):
        resolve_config({**base, "preprocess": {"png16": "scale"}})


# ------------------------------------------------------------------ formats
def test_class_folders_read_dicom_files(tmp_path, shared_data):
    from cxr_core.data.decode.images import verify_images

    src = _images(shared_data, 2)
    write_dicom(tmp_path / "d" / "normal" / "a.dcm", gray(src[0]))
    _copy(src[1], tmp_path / "d" / "covid" / "b.png")
    table = verify_images(read_class_folders(tmp_path / "d"))
    assert sorted(table.frame["sample_id"]) == ["covid/b.png", "normal/a.dcm"]


def test_a_pipeline_error_inside_tf_data_reaches_the_user_in_plain_words(tmp_path, shared_data):
    import keras

    from cxr_core.data.pipeline import PipelineSpec, build_dataset
    from cxr_core.inference.model import image_table, predict_probabilities

    good = _copy(_images(shared_data, 1)[0], tmp_path / "good.png")
    bad = tmp_path / "bad.png"
    bad.write_text("hello, not an image")
    table = image_table([good, bad], ("a", "b"))  # not verified: the file fails inside tf.data
    ds = build_dataset(table, PipelineSpec(image_size=(32, 32)), batch_size=2)
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(2, activation="softmax")])
    with pytest.raises(ValueError) as err:
        predict_probabilities(model, ds)
    text = str(err.value)
    assert "function_node" not in text and "[Op:" not in text
    assert text.startswith("an image could not be read or decoded inside the data pipeline")
    assert "without --no-verify" in text


def test_folder_files_left_out_are_returned_for_the_skipped_listing(tmp_path, shared_data):
    from cxr_core.inference.model import folder_files

    _copy(_images(shared_data, 1)[0], tmp_path / "x" / "a.png")
    (tmp_path / "x" / "notes.txt").write_text("hi")
    write_dicom(tmp_path / "x" / "sub" / "b.dcm", gray(_images(shared_data, 1)[0]))
    images, left_out = folder_files([tmp_path / "x"])
    assert [p.name for p in images] == ["a.png", "b.dcm"]
    assert [(p.name, why.split(" (")[0]) for p, why in left_out] == [("notes.txt", "not an image extension")]


# ------------------------------------------------------------------ messages in CLI terms
def test_a_manifest_with_label_and_class_columns_reads_with_data_label_column(tmp_path, shared_data):
    from cxr_core.protocol.experiment_data import load_samples

    a, b = _images(shared_data, 2)
    _copy(a, tmp_path / "a.png")
    _copy(b, tmp_path / "b.png")
    (tmp_path / "m.csv").write_text("path,label,class\na.png,x,normal\nb.png,y,covid\n")
    with pytest.raises(SampleError, match=r"--set data.label_column=class"):
        load_samples(_cfg(tmp_path / "m.csv"))
    table = load_samples(_cfg(tmp_path / "m.csv", label_column="class"))
    assert table.frame["label"].tolist() == ["normal", "covid"]


def test_a_fixed_split_without_test_data_names_the_option(tmp_path):
    from cxr_core.protocol.experiment_data import load_samples

    with pytest.raises(ValueError, match=r"data.test_source is not set: give --test-data"):
        load_samples(_cfg(tmp_path), test=True)


def test_library_messages_name_no_python_parameters():
    """Error texts the CLI shows say `--set data....` / `--skip-bad`, not `on_error='skip'`."""
    import re

    root = Path(__file__).resolve().parents[4] / "cxr_core"
    offenders = []
    for path in root.rglob("*.py"):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"""["'].*(on_error='skip'|pass label_column=|pass drop_duplicates=|pass format=)""", line):
                offenders.append(f"{path.name}:{n}: {line.strip()}")
    assert offenders == [], offenders


# ------------------------------------------------------------------ PyTorch checkpoint metadata
def _torch_checkpoint(path: Path, numpy1_names: bool = False) -> Path:
    torch = require("torch")
    torch.save({"state_dict": {"module.w": torch.ones(2)}, "best_prec1": np.float64(91.5), "epoch": np.int64(7)}, path)
    if numpy1_names:  # as a checkpoint written under NumPy 1 names its globals
        import zipfile

        with zipfile.ZipFile(path) as z:
            parts = {i.filename: z.read(i.filename) for i in z.infolist()}
        pkl = next(k for k in parts if k.endswith("data.pkl"))
        assert b"numpy._core.multiarray" in parts[pkl]
        parts[pkl] = parts[pkl].replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
            for name, data in parts.items():
                z.writestr(name, data)
    return path


@pytest.mark.parametrize("numpy1_names", [False, True])
def test_torch_checkpoint_with_numpy_scalar_metadata_is_read_safely(tmp_path, numpy1_names):
    from coronanet_tf.torch_weights import read_torch_state_dict

    arrays, casts = read_torch_state_dict(_torch_checkpoint(tmp_path / "c.pth.tar", numpy1_names))
    assert list(arrays) == ["w"] and np.array_equal(arrays["w"], [1.0, 1.0]) and casts == {}


def test_a_whole_pickled_torch_model_stays_refused(tmp_path):
    torch = require("torch")
    from coronanet_tf.torch_weights import read_torch_state_dict

    torch.save(torch.nn.Linear(2, 2), tmp_path / "model.pth")
    with pytest.raises(ValueError, match=r"refused: the file holds a pickled Python object \(torch.nn.modules"):
        read_torch_state_dict(tmp_path / "model.pth")


# ------------------------------------------------------------------ interrupted atomic writes
def test_a_write_killed_midway_leaves_a_temporary_that_the_next_start_removes(tmp_path):
    from cxr_core.atomic_files import remove_stale_temporaries

    fold = tmp_path / "fold_0" / "checkpoints"
    fold.mkdir(parents=True)
    code = ("import os, sys; from cxr_core.atomic_files import atomic_path\n"
            "with atomic_path(sys.argv[1]) as tmp:\n    tmp.write_bytes(b'half'); os._exit(9)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(fold / "last.weights.h5")], check=False)
    assert proc.returncode == 9
    orphans = [p.name for p in fold.iterdir()]
    assert len(orphans) == 1 and orphans[0].startswith(".last.weights.h5.tmp-")
    (fold / "keep.h5").write_bytes(b"x")
    assert [p.name for p in remove_stale_temporaries(tmp_path / "fold_0")] == orphans
    assert [p.name for p in fold.iterdir()] == ["keep.h5"]


# ------------------------------------------------------------------ patient ids and cheap checks
def _table(tmp_path, shared_data, patients=True):
    from cxr_core.data.tables.sample_table import table_from_rows

    rows = []
    for label in ("covid", "normal"):
        for i, src in enumerate(_images(shared_data, 4, label)):
            dst = _copy(src, tmp_path / label / src.name)
            rows.append({"sample_id": f"{label}/{src.name}", "path": str(dst), "label": label,
                         "patient_id": f"{label}-{i // 2}" if patients else None, "source": "s"})
    return table_from_rows(rows, ("covid", "normal"))


def test_a_patient_disjoint_promise_stops_without_patient_ids(tmp_path, shared_data):
    from cxr_core.data.audit.hazards import require_patient_ids

    proto = ExperimentConfig().protocol  # kfold, group_by_patient: true
    with pytest.raises(ValueError, match=r"protocol.group_by_patient is true .* none of the 8 samples has a "
                                         r"patient id.*--set protocol.group_by_patient=false"):
        require_patient_ids(proto, _table(tmp_path / "a", shared_data, patients=False))
    require_patient_ids(proto, _table(tmp_path / "b", shared_data))  # ids: fine
    fixed = dataclasses.replace(proto, kind="fixed_split", validation="test_fold")
    require_patient_ids(fixed, _table(tmp_path / "c", shared_data, patients=False))  # draws nothing


def test_run_hazard_checks_warn_and_reuse_manifest_hashes(tmp_path, shared_data):
    from cxr_core.data.audit.hazards import HAZARDS_FILE, run_hazard_checks
    from cxr_core.protocol.split_files import Split
    from cxr_core.atomic_files import file_sha256

    table = _table(tmp_path / "d", shared_data)
    paths = table.frame["path"].tolist()
    shutil.copyfile(paths[0], paths[7])  # a byte copy of a covid image in normal, row 7 (patient normal-1)
    frame = table.frame.copy()
    frame.loc[5, "patient_id"] = "covid-0"  # a covid patient also among normal's rows
    table = type(table)(frame, table.class_names)
    (tmp_path / "d" / "MANIFEST.csv").write_text(
        "path,sha256\n" + "".join(f"{Path(p).relative_to(tmp_path / 'd').as_posix()},{file_sha256(p)}\n"
                                  for p in paths[:4]))
    split = Split(0, np.arange(0, 4), None, np.arange(4, 8))
    with captured_logs(level=logging.WARNING) as messages:
        report = run_hazard_checks(table, [split], tmp_path / "run", [str(tmp_path / "d")])
    md = (tmp_path / "run" / HAZARDS_FILE).read_text()
    assert "4 taken from MANIFEST.csv, 4 computed" in md and md.startswith("## Data hazards")
    kinds = sorted(report.leaks["kind"])
    assert kinds == ["duplicate", "patient"]
    assert any("1 cases of identical files on both sides of a split" in m for m in messages)
    assert any("1 cases of patients on both sides of a split" in m for m in messages)


# ------------------------------------------------------------------ run level (tiny registered family)
@pytest.mark.slow
def test_fixed_split_runs_fingerprint_the_test_set_and_report_data_hazards(tiny_family, tmp_path):
    from cxr_core.config.experiment import resolve_config
    from cxr_core.protocol.run import run_protocol
    from cxr_core.runs.directory import RunDirectoryError
    from tests.tiny_family import write_separable_dataset

    write_separable_dataset(tmp_path / "train", per_class=4, seed=0)
    write_separable_dataset(tmp_path / "test", per_class=2, seed=1, prefix="t")
    write_separable_dataset(tmp_path / "test2", per_class=2, seed=2, prefix="u")
    leaked = sorted((tmp_path / "train" / "dark").iterdir())[0]
    shutil.copyfile(leaked, tmp_path / "test" / "dark" / "copy_of_train.png")  # a byte copy across the split

    def cfg(test, **protocol):
        return resolve_config({"preset": "tinycnn/paper", "data": {"source": str(tmp_path / "train"),
                                                                    "test_source": str(tmp_path / test)},
                               "train": {"epochs": 1}, "evaluation": {"n_bootstrap": 0},
                               "protocol": {"kind": "fixed_split", **protocol}})

    with captured_logs(level=logging.WARNING) as warnings:
        run = run_protocol(cfg("test"), tmp_path / "run")
    assert any("1 cases of identical files on both sides of a split" in w for w in warnings)
    report = (run / "report.md").read_text()
    assert "## Data hazards" in report and "WARNING: 1 cases of identical files" in report

    with pytest.raises(RunDirectoryError, match="made from other data"):  # same run dir, other --test-data
        run_protocol(cfg("test2"), tmp_path / "run")
    with pytest.raises(RunDirectoryError, match=r"fold_0.csv: split does not match the data"):
        run_protocol(cfg("test2", splits_from=str(run)), tmp_path / "other")  # another test set: refused
    reused = run_protocol(cfg("test", splits_from=str(run)), tmp_path / "reuse")  # the same data: reused
    assert (reused / "splits/fold_0.csv").read_text() == (run / "splits/fold_0.csv").read_text()


def test_a_reused_fixed_split_must_test_exactly_the_test_data():
    from cxr_core.protocol.split_files import Split
    from cxr_core.protocol.run import check_fixed_test_rows
    from cxr_core.runs.directory import RunDirectoryError

    cfg = dataclasses.replace(ExperimentConfig(), protocol=dataclasses.replace(
        ExperimentConfig().protocol, kind="fixed_split", splits_from="runs/a"))
    check_fixed_test_rows(cfg, Split(0, np.arange(6), None, np.arange(6, 10)), 6, 10)
    with pytest.raises(RunDirectoryError, match=r"protocol.splits_from \(runs/a\): its test rows \(3\) are not"):
        check_fixed_test_rows(cfg, Split(0, np.arange(7), None, np.arange(7, 10)), 6, 10)


@pytest.mark.slow
def test_predict_and_evaluate_on_a_folder_print_every_skipped_file_and_a_count(tiny_family, tmp_path, capsys):
    from cxr_core.cli.main import main
    from tests.tiny_family import CLASSES, build_tiny, write_separable_dataset

    weights = tmp_path / "w.weights.h5"
    build_tiny(len(CLASSES)).save_weights(weights)
    data = tmp_path / "data"
    write_separable_dataset(data, per_class=1)
    (data / "dark" / "notes.txt").write_text("not an image")
    whole = next((data / "dark").glob("*.png")).read_bytes()
    (data / "dark" / "broken.png").write_bytes(whole[: len(whole) // 2])
    model = ["--model", "tinycnn", "--preset", "paper", "--weights", str(weights)]

    assert main(["predict", *model, "--skip-bad", str(data)]) == 0
    out, err = capsys.readouterr()
    assert len(out.strip().splitlines()) == 3
    assert f"SKIPPED {data / 'dark' / 'notes.txt'}: not an image extension" in err
    assert f"SKIPPED {data / 'dark' / 'broken.png'}: truncated PNG" in err
    assert "3 image(s) predicted, 2 file(s) skipped" in err

    assert main(["predict", *model, str(data)]) == 2  # without --skip-bad: stops, says how to go on
    assert "give --skip-bad" in capsys.readouterr().err

    assert main(["evaluate", *model, "--skip-bad", "--n-bootstrap", "0", "--data", str(data),
                 "--out", str(tmp_path / "ev")]) == 0
    err = capsys.readouterr().err
    assert f"SKIPPED {data / 'dark' / 'notes.txt'}: not an image extension" in err
    assert f"SKIPPED {data / 'dark' / 'broken.png'}: truncated PNG" in err
    assert "3 image(s) evaluated, 2 file(s) skipped" in err

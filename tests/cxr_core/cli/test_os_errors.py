"""OS errors on the command line (issue 17, part 4): a read-only run directory or --out found before any work,
a full disk in one line (where, what a fold needs, the same command resumes), a truncated HDF5 weight
file, each exit 2 with one line and no traceback."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from cxr_core.cli.main import main
from cxr_core.weights.files import WeightFileError, describe_weight_file

READ_ONLY = Path("/sys")  # sysfs: nobody, root included, creates files there


def _read_only_or_skip() -> Path:
    try:
        (READ_ONLY / "covid-cxr-probe").write_text("x")
    except OSError:
        return READ_ONLY
    pytest.skip("/sys is writable here")


def _yaml(tmp_path: Path) -> Path:
    path = tmp_path / "x.yaml"
    path.write_text("preset: tinycnn/paper\n")
    return path


def _one_error_line(capsys) -> str:
    text = capsys.readouterr().err
    assert "Traceback" not in text
    err = [x for x in text.splitlines() if x.startswith("covid-cxr ")]  # log lines have a time stamp
    assert len(err) == 1, text
    return err[0]


def test_a_read_only_run_directory_is_found_before_any_work(tmp_path, capsys, tiny_family, monkeypatch):
    root = _read_only_or_skip()
    import cxr_core.protocol.experiment_data as experiment_data

    monkeypatch.setattr(experiment_data, "load_samples", lambda *a, **k: pytest.fail("images were read"))
    assert main(["cv", str(_yaml(tmp_path)), "--data", str(tmp_path), "--run-dir", str(root / "run")]) == 2
    assert _one_error_line(capsys) == (f"covid-cxr cv: error: --run-dir {root / 'run'}: cannot write in {root} "
                                       "(Permission denied); give a folder you can write to")


def test_a_read_only_out_folder_is_found_before_the_model_is_loaded(tmp_path, capsys):
    root = _read_only_or_skip()
    assert main(["evaluate", "--model", "nosuchfamily", "--weights", "w.h5", "--data", str(tmp_path),
                 "--out", str(root / "evaluation")]) == 2
    assert "--out /sys/evaluation: cannot write in /sys" in _one_error_line(capsys)


def test_a_full_disk_ends_in_one_line_saying_where_what_a_fold_needs_and_to_resume(tmp_path, capsys, tiny_family,
                                                                                   monkeypatch):
    import cxr_core.protocol.run as run
    from cxr_core.runs.progress import PROGRESS

    run_dir = tmp_path / "run"
    target = run_dir / "fold_1" / "checkpoints" / "resume.weights.h5"

    def fills_the_disk(cfg, run_dir_, **options):
        PROGRESS.start(run_dir_)
        (run_dir / "fold_0").mkdir(parents=True)
        (run_dir / "fold_0" / "predictions.csv").write_text("x\n")
        (run_dir / "fold_0" / "best.weights.h5").write_bytes(b"\0" * 2_500_000)
        target.parent.mkdir(parents=True)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))

    monkeypatch.setattr(run, "run_protocol", fills_the_disk)
    assert main(["cv", str(_yaml(tmp_path)), "--data", str(tmp_path), "--run-dir", str(run_dir)]) == 2
    line = _one_error_line(capsys)
    assert line.startswith(f"covid-cxr cv: error: disk full while writing {target} (")
    assert "MB free on that disk); a fold of this run needs about 2.5 MB (as fold_0 took)" in line
    assert line.endswith("run the same command to resume (saved epochs and finished folds are kept)")


def _truncated_weights(tmp_path: Path) -> tuple[Path, int, int]:
    full = tmp_path / "full.h5"
    with h5py.File(full, "w") as f:  # a Keras-2 weights file: layer_names + one Dense layer
        f.attrs["layer_names"] = [b"dense"]
        g = f.create_group("dense")
        g.attrs["weight_names"] = [b"dense/kernel:0"]
        g["dense/kernel:0"] = np.ones((512, 256), np.float32)
    data = full.read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(data[: len(data) // 3])
    return cut, len(data) // 3, len(data)


def test_a_truncated_hdf5_says_truncated_n_of_m_bytes(tmp_path):
    cut, n, m = _truncated_weights(tmp_path)
    with pytest.raises(WeightFileError) as err:
        describe_weight_file(cut)
    assert str(err.value).startswith(f"{cut}: truncated ({n} of {m} bytes)")


def test_a_truncated_weight_file_on_the_cli_is_one_line_exit_2(tmp_path, capsys, tiny_family, shared_data):
    cut, n, m = _truncated_weights(tmp_path)
    image = sorted((shared_data / "cxr4-mini" / "normal").iterdir())[0]
    code = main(["predict", "--model", "tinycnn", "--weights", str(cut), str(image)])
    assert code == 2
    assert f"{cut}: truncated ({n} of {m} bytes)" in _one_error_line(capsys)

"""Offline without the ImageNet weights: one line naming the file, its URL and the Keras cache path,
before any run directory exists; no empty run directories after a failed start. No network is used:
the Keras home points to an empty folder and the downloader raises."""

from __future__ import annotations

import urllib.error
from pathlib import Path

import pytest

from cxr_core.weights import imagenet as pretrained
from cxr_core.cli.main import main
from cxr_core.runs.start import discard_failed_start, holds_results

REPO = Path(__file__).resolve().parents[3]
XCEPTION_NOTOP = "xception_weights_tf_dim_ordering_tf_kernels_notop.h5"  # keras.applications.Xception


@pytest.fixture
def offline_empty_keras_home(tmp_path, monkeypatch):
    """``$KERAS_HOME`` as an empty folder (Keras reads the variable at import, so its value is set
    where Keras keeps it) and a downloader that fails as without a network."""
    from keras.src.backend import config
    from keras.src.utils import file_utils

    home = tmp_path / "keras_home"
    home.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setattr(config, "_KERAS_DIR", str(home))
    calls = []

    def no_network(url, *args, **kwargs):
        calls.append(url)
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(file_utils, "urlretrieve", no_network)
    return home, calls


def test_a_failed_download_is_one_line_naming_file_url_and_cache_path(offline_empty_keras_home):
    import keras

    home, calls = offline_empty_keras_home
    url = "https://example.invalid/weights/some_notop.h5"
    with pytest.raises(pretrained.PretrainedWeightsUnavailable) as info:
        with pretrained.guarded_downloads():
            keras.utils.get_file("some_notop.h5", url, cache_subdir="models")
    text = str(info.value)
    assert "\n" not in text and calls == [url]
    assert "some_notop.h5" in text and url in text and str(home / "models" / "some_notop.h5") in text
    assert "Temporary failure in name resolution" in text
    assert info.value.target == home / "models" / "some_notop.h5"
    assert keras.utils.get_file.__name__ == "get_file" and "guarded" not in repr(keras.utils.get_file)


def test_discard_failed_start_removes_only_what_it_created_and_holds_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with discard_failed_start(tmp_path / "runs" / "exp" / "stamp"):
            (tmp_path / "runs" / "exp" / "stamp").mkdir(parents=True)
            (tmp_path / "runs" / "exp" / "stamp" / "config.yaml").write_text("x")
            raise RuntimeError("bad data")
    assert not (tmp_path / "runs").exists()

    kept = tmp_path / "kept"
    with pytest.raises(KeyboardInterrupt):
        with discard_failed_start(kept):
            (kept / "fold_0" / "checkpoints").mkdir(parents=True)
            (kept / "fold_0" / "checkpoints" / "last.weights.h5").write_bytes(b"1")
            raise KeyboardInterrupt
    assert kept.is_dir() and holds_results(kept), "a saved epoch is kept for resuming"

    existing = tmp_path / "existing"
    existing.mkdir()
    with pytest.raises(RuntimeError):
        with discard_failed_start(existing):
            raise RuntimeError("resume failed")
    assert existing.is_dir(), "a directory that existed before is never removed"


@pytest.mark.slow
def test_cv_without_network_or_cached_weights_stops_before_the_run_directory(offline_empty_keras_home, cxr4_mini,
                                                                            tmp_path, capsys):
    home, calls = offline_empty_keras_home
    run_dir = tmp_path / "runs" / "coronet"
    # --smoke starts from random weights; --set brings the experiment's ImageNet backbone back.
    code = main(["cv", str(REPO / "experiments/coronet/4class.yaml"), "--data", str(cxr4_mini), "--smoke",
                 "--set", "model.backbone_weights=imagenet", "--run-dir", str(run_dir)])
    err = capsys.readouterr().err
    assert code == 2
    lines = [l for l in err.splitlines() if l.startswith("covid-cxr cv: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert XCEPTION_NOTOP in lines[0] and str(home / "models" / XCEPTION_NOTOP) in lines[0]
    assert len(calls) == 1 and calls[0].endswith(XCEPTION_NOTOP) and calls[0] in lines[0]
    assert not (tmp_path / "runs").exists(), "no run directory after a failed start"

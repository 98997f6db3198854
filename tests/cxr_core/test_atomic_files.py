"""Atomic writes keep the permissions any new file gets (issue 12 item 9)."""

from __future__ import annotations

import os
import stat

import numpy as np
import pandas as pd
import pytest

from cxr_core.atomic_files import atomic_path, atomic_write_text, current_umask, file_sha256, umask_mode
from cxr_core import atomic_files


@pytest.fixture
def umask():
    """Set the process umask for one test and restore it afterwards."""
    old = os.umask(0o022)
    os.umask(old)

    def set_mask(mask: int) -> None:
        os.umask(mask)

    yield set_mask
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_write_text_respects_umask(tmp_path, umask, mask, expected):
    umask(mask)
    target = tmp_path / "report.md"
    atomic_write_text(target, "# report\n")
    plain = tmp_path / "plain.md"
    plain.write_text("# plain\n")  # what open(path, "w") gives, for comparison
    assert _mode(target) == expected == _mode(plain)


def test_atomic_path_csv_and_replacement_respect_umask(tmp_path, umask):
    umask(0o022)
    target = tmp_path / "results.csv"
    for value in (1, 2):  # written, then replaced
        with atomic_path(target) as tmp:
            pd.DataFrame({"a": [value]}).to_csv(tmp, index=False)
        assert _mode(target) == 0o644
    assert pd.read_csv(target)["a"].tolist() == [2]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_current_umask_reads_without_changing(umask):
    umask(0o027)
    assert current_umask() == 0o027
    assert current_umask() == 0o027
    assert umask_mode() == 0o640 and umask_mode(folder=True) == 0o750


@pytest.mark.slow
def test_run_report_and_weights_are_0644(tmp_path, umask):
    """Figures (matplotlib) and Keras weights written through atomic_path get 0644 too."""
    import keras

    from cxr_core.report.figures import figure, save_figure

    umask(0o022)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with atomic_path(tmp_path / "m.weights.h5") as tmp:
        model.save_weights(tmp)
    fig = figure(3, 2)
    fig.gca().plot(np.arange(3))
    save_figure(fig, tmp_path / "curve.png")
    assert _mode(tmp_path / "m.weights.h5") == 0o644
    assert _mode(tmp_path / "curve.png") == 0o644


def test_file_sha256_is_hashlib_over_all_chunks_and_the_one_every_module_uses(tmp_path):
    import hashlib

    from cxr_core.runs import provenance
    from cxr_core.data.build import assemble as build
    from cxr_core.data.audit import hazards

    data = np.random.default_rng(0).integers(0, 256, (1 << 20) + 12345, dtype=np.uint8).tobytes()
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    assert file_sha256(path) == file_sha256(str(path), chunk=1000) == expected
    (tmp_path / "empty").write_bytes(b"")
    assert file_sha256(tmp_path / "empty") == hashlib.sha256(b"").hexdigest()
    with pytest.raises(FileNotFoundError):
        file_sha256(tmp_path / "missing")
    assert provenance.file_sha256 is hazards.file_sha256 is atomic_files.file_sha256 is file_sha256

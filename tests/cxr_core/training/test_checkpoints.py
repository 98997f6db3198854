"""What a training split leaves on disk: the selected weights only, optimizer state only while unfinished
(issue 12 item 8, :mod:`cxr_core.training.checkpoints`)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

import cxr_core.training.checkpoints
from cxr_core.training.fit import fit_split
from tests.cxr_core.training.test_training import _data, _tiny_model, _train_cfg


def _groups(path: Path) -> list[str]:
    names: list[str] = []
    with h5py.File(path, "r") as f:
        f.visit(names.append)
    return names


def _files(ckpt: Path) -> list[str]:
    return sorted(p.name for p in ckpt.glob("*.weights.h5"))


@pytest.mark.parametrize("checkpoint", ["last", "best"])
def test_a_finished_split_keeps_the_selected_weights_without_optimizer(tmp_path, checkpoint):
    cfg = _train_cfg(epochs=3, checkpoint=checkpoint, checkpoint_monitor="val_loss")
    result = fit_split(_tiny_model, _data, _data, tmp_path, cfg)
    ckpt = tmp_path / "checkpoints"
    assert _files(ckpt) == [f"{checkpoint}.weights.h5"] and result.weights_path == ckpt / f"{checkpoint}.weights.h5"
    assert not any(n.startswith("optimizer") for n in _groups(result.weights_path)), "optimizer state kept"
    model = _tiny_model()
    n_weights = sum(int(np.prod(w.shape)) for w in model.weights)
    # float32 weights plus HDF5 bookkeeping; with Adam's two slots the file would be ~3x the weights
    assert result.weights_path.stat().st_size < n_weights * 4 + 20_000
    model.load_weights(result.weights_path)


def test_an_unfinished_split_keeps_its_optimizer_state_until_it_finishes(tmp_path, monkeypatch):
    import keras

    with monkeypatch.context() as m:  # the process stops after the last epoch's checkpoint, before finishing
        m.setattr(cxr_core.training.checkpoints, "finish_split", lambda ckpt_dir, *a, **k: Path(ckpt_dir) / "none")
        keras.utils.set_random_seed(0)
        fit_split(_tiny_model, _data, _data, tmp_path, _train_cfg(epochs=2))
    ckpt = tmp_path / "checkpoints"
    assert _files(ckpt) == ["resume.weights.h5"]
    assert any(n.startswith("optimizer") for n in _groups(ckpt / "resume.weights.h5")), "resume needs Adam's moments"
    resumed_model = _tiny_model()
    resumed_model.load_weights(ckpt / "resume.weights.h5")
    again = fit_split(_tiny_model, _data, _data, tmp_path, _train_cfg(epochs=2))  # finishes what was left
    assert again.resumed_from == 2 and _files(ckpt) == ["last.weights.h5"]
    final = _tiny_model()
    final.load_weights(again.weights_path)
    for a, b in zip(final.get_weights(), resumed_model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_selected_name_rejects_unknown_mode():
    with pytest.raises(ValueError, match="train.checkpoint"):
        cxr_core.training.checkpoints.selected_name("final")

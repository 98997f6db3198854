"""An export whose reloaded predictions differ ends in one line with the measured difference."""

from __future__ import annotations

import keras
import pytest

from cxr_core.inference import export as X
from cxr_core.cli.main import main

SHIFT = 0.05


def _shifted_reload(monkeypatch):
    """The reloaded export predicts the real reloaded outputs plus :data:`SHIFT`."""
    real = X.load_exported

    def shifted(path, format):
        predict = real(path, format)
        return lambda x: [out + SHIFT for out in predict(x)]

    monkeypatch.setattr(X, "load_exported", shifted)


def test_a_differing_reload_raises_one_line_with_the_difference(tmp_path, monkeypatch):
    keras.utils.set_random_seed(0)
    inp = keras.Input((16, 16, 3))
    out = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(inp))
    model = keras.Model(inp, out)
    _shifted_reload(monkeypatch)
    with pytest.raises(X.ExportMismatchError) as info:
        X.export_model(model, tmp_path / "m", "keras")
    text = str(info.value)
    assert "\n" not in text and "output 0 differs by up to 0.05 " in text and str(tmp_path / "m.keras") in text
    assert info.value.difference == pytest.approx(SHIFT, abs=1e-6)


@pytest.mark.slow
def test_covid_cxr_export_prints_the_difference_not_a_traceback(tiny_family, tmp_path, monkeypatch, capsys):
    from tests.tiny_family import build_tiny

    weights = tmp_path / "tiny.weights.h5"
    build_tiny(3).save_weights(weights)
    _shifted_reload(monkeypatch)
    code = main(["export", str(tmp_path / "tiny"), "--model", "tinycnn", "--preset", "paper",
                 "--weights", str(weights)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "AssertionError" not in err
    lines = [l for l in err.splitlines() if l.startswith("covid-cxr export: error:")]
    assert len(lines) == 1 and "differs by up to 0.05 " in lines[0], err

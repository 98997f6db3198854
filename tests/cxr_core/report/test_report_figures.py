"""Score figures (ROC, PR, reliability/ECE), report.md with inline figures, report.html, smoke mark,
fold numbering and the run's actual input size in the report."""

from __future__ import annotations

import base64
import re

import numpy as np
import pandas as pd
import pytest
import yaml

from cxr_core.report import figures as F
from cxr_core.evaluation import metrics as M
from cxr_core.report import markdown as R
from cxr_core.report import score_figures as S
from tests.figure_capture import saved_figures

NAMES = ["covid", "normal", "pneumonia_bacterial", "pneumonia_viral"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _predictions(n=200, seed=0, classes=4):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    p = rng.dirichlet(np.ones(classes), n)
    p[np.arange(n), y] += rng.uniform(0, 1.2, n)
    return y, p / p.sum(1, keepdims=True)


def _ece_direct(y, p, n_bins=10):
    """Guo et al.'s ECE written out sample by sample: bins ((m-1)/M, m/M], confidence 0 in bin 1."""
    total = 0.0
    conf = p.max(axis=1)
    correct = p.argmax(axis=1) == y
    for m in range(1, n_bins + 1):
        lo, hi = (m - 1) / n_bins, m / n_bins
        inside = [i for i in range(len(y)) if (lo < conf[i] <= hi) or (m == 1 and conf[i] == 0.0)]
        if inside:
            total += len(inside) / len(y) * abs(np.mean(correct[inside]) - np.mean(conf[inside]))
    return total


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ece_matches_a_direct_computation(seed):
    y, p = _predictions(seed=seed)
    assert S.expected_calibration_error(y, p) == pytest.approx(_ece_direct(y, p), abs=1e-12)


def test_ece_bin_edges_are_right_closed_and_perfect_calibration_is_zero():
    p = np.array([[0.3, 0.7], [0.7, 0.3], [0.5, 0.5], [0.5, 0.5]])
    bins = S.calibration_bins(np.array([1, 0, 0, 1]), p)
    assert bins["count"][6] == 2 and bins["count"][4] == 2  # 0.7 in (0.6, 0.7], 0.5 in (0.4, 0.5]
    # 0.5 confidence, half right; 0.7 confidence, both right: |1 - 0.7| * 2/4 + |0.5 - 0.5| * 2/4
    assert S.expected_calibration_error(np.array([1, 0, 0, 1]), p) == pytest.approx(0.15)
    one_hot = np.eye(3)[[0, 1, 2, 1]]
    assert S.expected_calibration_error(np.array([0, 1, 2, 1]), one_hot) == 0.0


def test_roc_pr_figure_reports_sklearn_auc_and_ap(tmp_path):
    from sklearn.metrics import average_precision_score, roc_auc_score

    y, p = _predictions()
    values = S.plot_roc_pr(y, p, NAMES, tmp_path / "roc_pr.png", title="t")
    assert (tmp_path / "roc_pr.png").read_bytes()[:8] == PNG_MAGIC
    for c, name in enumerate(NAMES):
        auc, ap = values[name]
        assert auc == pytest.approx(roc_auc_score(y == c, p[:, c]))
        assert ap == pytest.approx(average_precision_score(y == c, p[:, c]))
    y_one = np.zeros(10, dtype=int)  # one class only: no curve, NaN, no error
    p_one = np.tile([0.9, 0.1], (10, 1))
    assert all(np.isnan(v).all() for v in S.plot_roc_pr(y_one, p_one, ["a", "b"], tmp_path / "x.png").values())


def test_smoke_runs_mark_every_figure(tmp_path, monkeypatch):
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"smoke": True}))
    (tmp_path / "fold_0" / "phase1").mkdir(parents=True)
    assert F.run_mark(tmp_path / "fold_0" / "phase1" / "curves.png") == F.SMOKE_MARK
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.yaml").write_text(yaml.safe_dump({"smoke": False}))
    assert F.run_mark(tmp_path / "other" / "x.png") is None
    fig = F.figure(3, 3)
    fig.add_subplot(1, 1, 1).plot([0, 1], [0, 1])
    F.save_figure(fig, tmp_path / "fold_0" / "x.png")
    assert any("SMOKE" in t.get_text() for t in fig.texts)


def test_accuracy_axis_never_goes_below_zero_and_a_loss_only_log_gets_one_panel(tmp_path, monkeypatch):
    drawn = saved_figures(monkeypatch, F, write=False)
    log = pd.DataFrame({"epoch": range(3), "loss": [1.0, 0.8, 0.7], "accuracy": [0.0, 0.0, 0.0],
                        "val_loss": [1.1, 1.0, 0.9], "val_accuracy": [0.0, 0.0, 0.0]})
    F.plot_training_curves(log, tmp_path / "c.png")
    assert drawn[-1].axes[1].get_ylim()[0] == 0.0 and drawn[-1].axes[1].get_ylim()[1] >= 1.0
    F.plot_training_curves(log[["epoch", "loss"]], tmp_path / "r.png", loss_name="reconstruction loss (MSE)")
    assert len(drawn[-1].axes) == 1 and drawn[-1].axes[0].get_title() == "reconstruction loss (MSE)"


def _folds(n_folds=3):
    out = []
    for k in range(n_folds):
        y, p = _predictions(n=80, seed=10 + k)
        result = M.evaluate_predictions(y, p, NAMES, n_boot=0)
        result.fold = k
        out.append(result)
    return out


@pytest.mark.slow
def test_report_shows_figures_inline_and_report_html_embeds_them(tmp_path):
    folds = _folds()
    (tmp_path / "fold_0").mkdir()
    F.plot_training_curves(pd.DataFrame({"epoch": [0, 1], "loss": [1.0, 0.5], "accuracy": [0.4, 0.6]}),
                           tmp_path / "fold_0" / "curves.png")
    config = {"name": "run", "preset": "coronet/authors_code",
              "preprocess": {"image_size": [71, 71], "resize_method": "nearest", "scaling": "rescale01"},
              "train": {"epochs": 1, "batch_size": 4, "steps_per_epoch": 2},
              "published": {"table": "coronet/table3"}}
    report = R.write_run_report(tmp_path, config, folds, None, n_boot=0)
    text = report.read_text()
    for name in ("roc_pr_pooled.png", "roc_pr_averaged.png", "roc_per_fold.png", "pr_per_fold.png",
                 "reliability_pooled.png", "confusion_matrix_pooled.png", "fold_0/curves.png"):
        assert f"![{name}]({name})" in text, name
        assert (tmp_path / name).read_bytes()[:8] == PNG_MAGIC
    assert "input used by this run: 71x71 pixels" in text and "150x150" not in text
    assert "Folds are numbered from 0" in text
    calibration = pd.read_csv(tmp_path / "calibration.csv", index_col=0)
    assert list(calibration.index) == ["fold 0", "fold 1", "fold 2", "pooled"]
    y = np.concatenate([r.y_true for r in folds])
    p = np.concatenate([r.y_prob for r in folds])
    assert calibration.loc["pooled", "ECE"] == pytest.approx(_ece_direct(y, p))
    # folds numbered from 0; our fold 0 sits beside the paper's fold 1 (Table III: precision 88 [S4])
    results = pd.read_csv(tmp_path / "results.csv", index_col=0)
    assert list(results.index[:3]) == ["fold 0", "fold 1", "fold 2"]
    assert re.search(r"\| fold 0 \| [\d.]+ \| 88\.00 \|", text)

    html = (tmp_path / "report.html").read_text()
    sources = re.findall(r'<img alt="[^"]*" src="([^"]+)"', html)
    assert len(sources) == 8 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert base64.b64decode(sources[0].split(",", 1)[1])[:8] == PNG_MAGIC
    assert "<table>" in html and "<h2>Calibration</h2>" in html and "<td class=\"num\">" in html


def test_the_console_says_what_this_process_trained_and_what_the_fold_holds():
    from pathlib import Path

    from cxr_core.protocol.run import trained_text
    from cxr_core.training.fit import FitResult

    fresh = FitResult(Path("l"), Path("w"), epochs_done=3, stopped_early=False, resumed_from=0)
    resumed = FitResult(Path("l"), Path("w"), epochs_done=5, stopped_early=False, resumed_from=3)
    done = FitResult(Path("l"), Path("w"), epochs_done=5, stopped_early=False, resumed_from=5)
    assert trained_text(fresh, 12.3) == "trained 3 epochs in 12 s"
    assert trained_text(resumed, 8) == "trained 2 epochs in this process in 8 s (5 in total; resumed after epoch 3)"
    assert trained_text(done, 0).startswith("trained 0 epochs in this process") and "5 in total" in trained_text(done, 0)


def test_the_star_marks_the_epoch_whose_weights_were_kept(tmp_path, monkeypatch):
    """A final-epoch protocol (CoroNet [CN]) stars the last epoch, a best-checkpoint one (CVR-Net [CVR-T])
    the best epoch by its monitor; a best validation accuracy elsewhere is "not kept"."""
    drawn = saved_figures(monkeypatch, F, write=False)
    log = pd.DataFrame({"epoch": range(4), "loss": [1.0, 0.8, 0.7, 0.6], "accuracy": [0.5, 0.6, 0.7, 0.8],
                        "val_loss": [1.0, 0.7, 0.75, 0.9], "val_accuracy": [0.5, 0.6, 0.8, 0.7]})

    def labels(**kw):
        F.plot_training_curves(log, tmp_path / "c.png", **kw)
        return [line.get_label() for line in drawn[-1].axes[1].lines if not line.get_label().startswith("_")]

    assert labels() == ["train", "validation", "best val 0.800 (epoch 3)"]  # selection unknown: as before
    assert labels(kept="last") == ["train", "validation", "kept: epoch 4, final epoch (val 0.700)",
                                   "best val 0.800 (epoch 3), not kept"]
    assert labels(kept="best", monitor="val_accuracy") == ["train", "validation",
                                                          "kept: epoch 3, best val_accuracy (val 0.800)"]
    assert labels(kept="best", monitor="val_loss") == ["train", "validation", "kept: epoch 2, best val_loss (val 0.600)",
                                                      "best val 0.800 (epoch 3), not kept"]
    F.plot_training_curves(log[["epoch", "loss", "accuracy"]], tmp_path / "t.png", kept="last")  # no validation
    assert [ln.get_label() for ln in drawn[-1].axes[1].lines][-1] == "kept: epoch 4, final epoch (train 0.800)"
    with pytest.raises(ValueError, match="kept must be None, 'last' or 'best'; found 'first'"):
        F.plot_training_curves(log, tmp_path / "x.png", kept="first")


@pytest.mark.parametrize("train,expected", [
    ({"checkpoint": "last"}, ("last", "val_accuracy")),                                  # CoroNet [CN]
    ({"checkpoint": "best", "checkpoint_monitor": "val_accuracy"}, ("best", "val_accuracy")),  # CVR-Net [CVR-T]
    ({"checkpoint": "last", "early_stopping": {"monitor": "val_loss", "patience": 3, "restore_best_weights": True}},
     ("best", "val_loss")),                 # Keras puts the best epoch's weights back at the end of training
    ({"checkpoint": "last", "early_stopping": {"monitor": "val_loss", "patience": 3}}, ("last", "val_accuracy")),
    ({"checkpoint": "last", "early_stopping": {"restore_best_weights": True, "start_from_epoch": 2}},
     (None, "val_accuracy")),               # Keras' best then ignores the first epochs: not told from the log
])
def test_the_kept_epoch_follows_checkpoint_and_early_stopping(train, expected):
    from cxr_core.config.experiment import resolve_config
    from cxr_core.protocol.run import kept_epoch_rule

    cfg = resolve_config({"preset": "coronet/paper", "protocol": {"validation": "inner_split"}, "train": train})
    assert kept_epoch_rule(cfg.train) == expected


def test_keras_early_stopping_restores_its_best_epoch_without_stopping():
    """The fact kept_epoch_rule relies on, checked on Keras itself: restore_best_weights puts the best
    epoch's weights back at the end of training even when training ran all its epochs."""
    import keras
    import numpy as np

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    weights = []

    class Shift(keras.callbacks.Callback):  # a different weight each epoch; val_loss is lowest after epoch 2
        def on_epoch_begin(self, epoch, logs=None):
            self.model.layers[0].kernel.assign([[[0.0], [1.0], [3.0]][epoch]])
            weights.append(float(self.model.layers[0].kernel.numpy()[0, 0]))

    x = np.ones((4, 1), "float32")
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True)
    model.fit(x, x, validation_data=(x, x), epochs=3, verbose=0, callbacks=[Shift(), stop])
    assert stop.stopped_epoch == 0 and float(model.layers[0].kernel.numpy()[0, 0]) == 1.0 == weights[1]

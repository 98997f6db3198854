"""cxr_core.report.markdown: tables, figures and the run report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxr_core.errors import CxrError
from cxr_core.evaluation import metrics as M
from cxr_core.report import published as P
from cxr_core.report import markdown as R
from cxr_core.report import tables
from cxr_core.report import figures

NAMES = ["covid", "normal", "pneumonia_bacterial", "pneumonia_viral"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _fold_results(n_folds=4, n=120, seed=0, n_boot=0):
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n_folds):
        y = rng.integers(0, 4, n)
        p = rng.dirichlet(np.ones(4), n)
        p[np.arange(n), y] += 0.6
        out.append(M.evaluate_predictions(y, p / p.sum(1, keepdims=True), NAMES, n_boot=n_boot,
                                          seed=k))
    return out


def test_write_table_csv_and_markdown(tmp_path):
    df = pd.DataFrame({"Precision": [90.123, np.nan], "n": [3, 4], "name": ["a|b", "c"]},
                      index=["fold 1", "mean"])
    tables.write_table(df, tmp_path / "sub" / "results")
    back = pd.read_csv(tmp_path / "sub" / "results.csv", index_col=0)
    assert back.loc["fold 1", "Precision"] == pytest.approx(90.123)
    md = (tmp_path / "sub" / "results.md").read_text().splitlines()
    assert md[0] == "|  | Precision | n | name |"
    assert md[1] == "|---|---:|---:|---|"
    assert md[2] == "| fold 1 | 90.12 | 3 | a\\|b |"
    assert md[3] == "| mean |  | 4 | c |"
    assert not [p for p in (tmp_path / "sub").iterdir() if p.name.startswith(".")]


def test_comparison_table_aligns_labels():
    ours = M.classwise_table(_fold_results(2))
    pub = P.published_table("coronet/table4")
    cmp = tables.comparison_table(ours, pub)
    assert list(cmp.index) == NAMES
    assert list(cmp.columns[:3]) == ["Precision ours", "Precision published", "Precision diff"]
    assert cmp.loc["covid", "Precision published"] == 93.17
    assert cmp.loc["pneumonia_viral", "F-measure published"] == 83.1
    np.testing.assert_allclose(cmp["Recall diff"], cmp["Recall ours"] - cmp["Recall published"])
    assert cmp.attrs["source"] == "[S4] Table IV"
    table = M.fold_table(_fold_results(4))
    cmp3 = tables.comparison_table(table, P.published_table("coronet/table3"))
    assert cmp3.loc["mean", "Accuracy published"] == 89.6
    assert np.isnan(cmp3.loc["std", "Accuracy published"])
    # explicit mapping, and rows only on the published side are kept
    cmp_map = tables.comparison_table(ours.rename(index={"covid": "c19"}), pub, row_map={"c19": "COVID-19"})
    assert cmp_map.loc["c19", "Recall published"] == 98.25
    partial = tables.comparison_table(ours.iloc[:1], pub)
    assert len(partial) == 4 and np.isnan(partial.loc["Normal", "Recall ours"])
    with pytest.raises(CxrError, match="shares no column with ours"):
        tables.comparison_table(ours[["Precision"]].rename(columns={"Precision": "x"}), pub)


@pytest.mark.parametrize("normalize", [False, True])
def test_plot_confusion_matrix(tmp_path, normalize):
    path = tmp_path / "cm.png"
    figures.plot_confusion_matrix(P.published_confusion("coronet/notebook_confusion"), NAMES, path,
                            normalize=normalize, title="CoroNet notebook [CN-old]")
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert [p.name for p in tmp_path.iterdir()] == ["cm.png"]
    with pytest.raises(ValueError, match="does not match"):
        figures.plot_confusion_matrix([[1, 2], [3, 4]], NAMES, tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()


def test_plot_confusion_matrix_empty_row(tmp_path):
    figures.plot_confusion_matrix([[3, 0], [0, 0]], ["a", "b"], tmp_path / "cm.png", normalize=True)
    assert (tmp_path / "cm.png").stat().st_size > 1000


def test_plot_training_curves(tmp_path):
    log = pd.DataFrame({"epoch": range(6), "loss": np.linspace(1, 0.3, 6),
                        "accuracy": np.linspace(0.5, 0.9, 6), "val_loss": np.linspace(1.2, 0.5, 6),
                        "val_accuracy": np.linspace(0.4, 0.8, 6), "lr": [1e-4] * 3 + [1e-5] * 3})
    csv = tmp_path / "training_log.csv"
    log.to_csv(csv, index=False)
    figures.plot_training_curves(csv, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:8] == PNG_MAGIC
    figures.plot_training_curves(log[["epoch", "loss", "accuracy"]], tmp_path / "train_only.png")
    figures.plot_training_curves(log[["loss"]].iloc[:1], tmp_path / "one.png")
    assert (tmp_path / "one.png").exists()
    with pytest.raises(ValueError, match="'loss'"):
        figures.plot_training_curves(log[["epoch"]], tmp_path / "x.png")
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        figures.plot_training_curves(tmp_path / "missing.csv", tmp_path / "x.png")


def test_write_run_report(tmp_path):
    folds = _fold_results(4, n_boot=0)
    (tmp_path / "fold_1").mkdir()
    figures.plot_confusion_matrix(folds[0].confusion, NAMES, tmp_path / "fold_1" / "confusion_matrix.png")
    config = {"name": "coronet-4class", "preset": "coronet/authors_code",
              "deviations": ["input 150x150 instead of 224 [CN]", "holdout protocol"],
              "published": {"table": "coronet/table3", "source": "[S4] Table III"}}
    path = R.write_run_report(tmp_path, config, folds, None, n_boot=100)
    text = path.read_text()
    assert path == tmp_path / "report.md"
    assert text.startswith("# coronet-4class")
    assert "`coronet/authors_code`" in text
    assert "- input 150x150 instead of 224 [CN]" in text
    assert "Precision published" in text and "89.92" in text and "93.17" in text
    assert "[S4] Table III" in text and "[S4] Table IV" in text
    assert "macro_roc_auc" in text and "100 resamples" in text
    assert "(fold_1/confusion_matrix.png)" in text
    assert "(confusion_matrix_pooled_normalized.png)" in text
    for name in ("results.csv", "results.md", "results_classwise.csv",
                 "confusion_matrix_pooled.png", "confusion_matrix_pooled_normalized.png"):
        assert (tmp_path / name).is_file(), name
    results = pd.read_csv(tmp_path / "results.csv", index_col=0)
    assert list(results.index) == ["fold 0", "fold 1", "fold 2", "fold 3", "mean", "std"]
    pd.testing.assert_frame_equal(results, M.fold_table(folds), check_names=False,
                                  check_freq=False, atol=1e-9)


def test_write_run_report_other_layouts(tmp_path):
    folds = _fold_results(1, n_boot=0)
    R.write_run_report(tmp_path / "a", {"name": "x"}, folds, "coronet/table5", n_boot=0)
    text = (tmp_path / "a" / "report.md").read_text()
    assert "Published reference (coronet/table5)" in text and "None recorded" in text
    assert "No bootstrap" in text
    R.write_run_report(tmp_path / "b", {"name": "y"}, [M.evaluate_confusion(f.confusion, NAMES)
                                                        for f in folds], None)
    assert "no intervals" in (tmp_path / "b" / "report.md").read_text()
    with pytest.raises(KeyError, match="nope"):
        R.write_run_report(tmp_path / "c", {}, folds, "nope")


def test_test_loss_equals_keras_and_sklearn(tmp_path):
    """CoroNet's notebook reports the test loss of ``evaluate`` [CN-old]: ours equals Keras'
    categorical cross-entropy and scikit-learn's log_loss on the same probabilities, and the report shows it."""
    import keras
    from sklearn.metrics import log_loss

    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 40)
    logits = rng.normal(size=(40, 4)) + 2 * np.eye(4)[y]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    ours = R.cross_entropy_loss(y, p)
    assert ours == pytest.approx(log_loss(y, p, labels=range(4)), rel=1e-9)
    want = float(keras.ops.mean(keras.losses.categorical_crossentropy(np.eye(4)[y], p)))
    assert ours == pytest.approx(want, rel=1e-5)
    res = M.evaluate_predictions(y, p, NAMES, n_boot=0)
    text = R.write_run_report(tmp_path, {"name": "t"}, [res], None, n_boot=0).read_text()
    assert "Test loss (categorical cross-entropy" in text and f"{ours:.4f}" in text

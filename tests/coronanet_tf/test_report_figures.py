"""coronanet_tf.report_figures: the project page's confusion matrix [VIP] drawn beside ours, in its layout.

Expected cells are written out by hand from a small matrix (classes in the authors' order covid, normal,
pneumonia) and from docs/PAPERS.md §3.5; the drawn values are read back from the figure's Axes.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import coronanet_tf.report_figures as F
from cxr_core.evaluation import metrics as M
from cxr_core.report import markdown as R
from tests.figure_capture import saved_figures

NAMES = ["covid", "normal", "pneumonia"]  # the authors' label order [CR-A]
CM = np.array([[9, 1, 0], [2, 90, 8], [0, 5, 95]])  # rows true, columns predicted, in NAMES' order
# the page's order COVID-19 / Pneumonia / Normal, by hand: rows covid, pneumonia, normal of CM
WANT_COUNTS = [[9, 0, 1], [0, 95, 5], [2, 8, 90]]
WANT_FRACTIONS = [[0.90, 0.00, 0.10], [0.00, 0.95, 0.05], [0.02, 0.08, 0.90]]
PUBLISHED = [[1.00, 0.00, 0.00], [0.00, 0.95, 0.05], [0.00, 0.04, 0.95]]  # docs/PAPERS.md §3.5 [VIP]
PAGE_ORDER = ["COVID-19", "Pneumonia", "Normal"]


def _cells(ax) -> dict[tuple[int, int], tuple[str, str]]:
    """(row, column) -> (text, colour) of the cell annotations of one panel."""
    out = {}
    for t in ax.texts:
        x, y = t.get_position()
        out[(int(round(y)), int(round(x)))] = (t.get_text(), t.get_color())
    return out


def _drawn_figure(monkeypatch, tmp_path, names, cm):
    """Run the report hook with a pooled result of ``cm``; returns (hook result, the Figure it saved)."""
    saved = saved_figures(monkeypatch, F)
    pooled = SimpleNamespace(class_names=names, confusion=np.asarray(cm))
    out = F.confusion_figures("coronanet/confusion", tmp_path, {"name": "t"}, [pooled], pooled)
    return out, (saved[0] if saved else None)


def test_drawn_cells_are_the_page_and_our_reordered_rows(monkeypatch, tmp_path):
    (figures, notes), fig = _drawn_figure(monkeypatch, tmp_path, NAMES, CM)
    assert notes == [] and [f for f, _ in figures] == [F.FIGURE_FILE]
    assert (tmp_path / F.FIGURE_FILE).is_file()
    assert "[VIP] images/confusionlabel.png" in figures[0][1]
    published, ours = fig.axes[0], fig.axes[1]
    assert published.get_title() == "published (project page [VIP])"
    assert ours.get_title().startswith("ours (this run, all folds pooled)") and "n = 210" in ours.get_title()
    for ax in (published, ours):  # the page's layout: its order, rows true, 45-degree predicted labels
        assert [t.get_text() for t in ax.get_yticklabels()] == PAGE_ORDER
        assert [t.get_text() for t in ax.get_xticklabels()] == PAGE_ORDER
        assert {t.get_rotation() for t in ax.get_xticklabels()} == {45.0}
        assert (ax.get_ylabel(), ax.get_xlabel()) == ("True label", "Predicted label")
        image = ax.images[0]
        assert image.get_cmap().name == "Blues" and image.get_clim() == (0.0, 1.0)  # one shared scale
    np.testing.assert_allclose(published.images[0].get_array(), PUBLISHED)
    np.testing.assert_allclose(ours.images[0].get_array(), WANT_FRACTIONS)
    pub_cells, our_cells = _cells(published), _cells(ours)
    assert len(pub_cells) == len(our_cells) == 9
    for i in range(3):
        for j in range(3):
            assert pub_cells[(i, j)][0] == f"{PUBLISHED[i][j]:.2f}"
            assert our_cells[(i, j)][0] == f"{WANT_FRACTIONS[i][j]:.2f}\n({WANT_COUNTS[i][j]})"
    assert our_cells[(0, 0)] == ("0.90\n(9)", "white") and our_cells[(2, 1)] == ("0.08\n(8)", "black")
    assert pub_cells[(1, 1)] == ("0.95", "white") and pub_cells[(2, 1)] == ("0.04", "black")
    assert len(fig.axes) == 3  # the two panels and one colour bar


def test_a_class_without_samples_is_blank(monkeypatch, tmp_path):
    cm = np.array([[0, 0, 0], [2, 90, 8], [0, 5, 95]])  # no covid image
    _, fig = _drawn_figure(monkeypatch, tmp_path, NAMES, cm)
    cells = _cells(fig.axes[1])
    assert cells[(0, 0)] == ("n/a\n(0)", "black") and cells[(1, 1)][0] == "0.95\n(95)"


def test_no_figure_when_the_classes_do_not_map(monkeypatch, tmp_path):
    (figures, notes), fig = _drawn_figure(monkeypatch, tmp_path, ["a", "b", "c"], CM)
    assert figures == [] and fig is None and not (tmp_path / F.FIGURE_FILE).exists()
    assert len(notes) == 1 and "COVID-19, Pneumonia, Normal" in notes[0] and "a, b, c" in notes[0]


@pytest.mark.slow
def test_the_report_links_the_figure_under_the_published_comparison(tmp_path):
    def result(names, cm):
        cm = np.asarray(cm)
        y = np.repeat(np.arange(3), cm.sum(axis=1))
        pred = np.concatenate([np.repeat(np.arange(3), row) for row in cm])
        return M.evaluate_predictions(y, np.eye(3)[pred], names, n_boot=0)

    link = f"![{F.FIGURE_FILE}]({F.FIGURE_FILE})"
    R.write_run_report(tmp_path / "a", {"name": "t"}, [result(NAMES, CM)], "coronanet/confusion", n_boot=0)
    text = (tmp_path / "a/report.md").read_text()
    section = text.split("## Published reference (coronanet/confusion)")[1].split("\n## ")[0]
    assert link in section and "[VIP] images/confusionlabel.png) beside ours" in section
    assert (tmp_path / "a" / F.FIGURE_FILE).is_file()
    assert 'src="data:image/png;base64,' in (tmp_path / "a/report.html").read_text()
    # a smoke run: the published table for reference only, the figure stamped
    R.write_run_report(tmp_path / "b", {"name": "t", "reference_only": "a SMOKE run (x)"}, [result(NAMES, CM)],
                       "coronanet/table5_ppv", n_boot=0)
    text = (tmp_path / "b/report.md").read_text()
    section = text.split("## Published reference (coronanet/table5_ppv): for reference only")[1].split("\n## ")[0]
    assert link in section and "stamped REFERENCE ONLY" in section
    # classes that do not map: no figure, a note saying why
    R.write_run_report(tmp_path / "c", {"name": "t"}, [result(["a", "b", "c"], CM)], "coronanet/confusion", n_boot=0)
    text = (tmp_path / "c/report.md").read_text()
    assert link not in text and "No confusion-matrix figure in the project page's layout" in text
    assert not (tmp_path / "c" / F.FIGURE_FILE).exists()

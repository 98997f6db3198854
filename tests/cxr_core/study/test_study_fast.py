"""The study's pieces end to end without Ray, on the tiny family: plan, one fold's metrics against the
published table, the occlusion probe of a classifier (fast; the Ray study itself is test_study_ray.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.cxr_core.study.study_data import family_with_table
from tests.tiny_family import registered


@pytest.fixture
def tiny_with_table():
    with registered(family_with_table()) as family:
        yield family


def _experiment(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text("name: tiny-study\npreset: tinycnn/authors_code\npublished: {table: tinycnn/table_test}\n")
    return path


def test_plan_reads_each_run_as_cv_does(tiny_with_table, tmp_path):
    from cxr_core.study.plan import plan_study

    runs = plan_study([str(_experiment(tmp_path))], [0, 3], tmp_path / "out", data=str(tmp_path))
    assert len(runs) == 2 * 2  # 2 seeds x the preset's 2 folds
    first = runs[0].cv_args
    assert "protocol.seed=0" in first and "train.seed=0" in first and "--folds" in first
    assert {r.seed for r in runs} == {0, 3}


def test_one_folds_metrics_stand_beside_the_published_table(tiny_with_table):
    from cxr_core.evaluation.metrics import evaluate_predictions
    from cxr_core.study.collect import fold_metrics

    y = np.array([0, 1, 2, 3] * 5)
    probs = np.eye(4)[y] * 0.7 + 0.075
    rows = fold_metrics({"published": {"table": "tinycnn/table_test"}},
                        evaluate_predictions(y, probs, ["a", "b", "c", "d"], n_boot=0))
    by_metric = {m: (ours, published) for m, ours, published, _ in rows}
    assert by_metric["Accuracy"] == pytest.approx((100.0, 55.0))  # the made-up table's mean row


def test_the_occlusion_probe_scores_whole_border_and_centre(tiny_family, cxr4_mini, tmp_path):
    import cxr_core
    from cxr_core.evaluation.probes import occlusion_probe
    from tests.tiny_family import build_tiny

    weights = tmp_path / "tiny.weights.h5"
    build_tiny(4).save_weights(weights)
    classifier = cxr_core.load_classifier("tinycnn/authors_code", weights=weights,
                                          class_names=["covid", "normal", "pneumonia_bacterial", "pneumonia_viral"])
    manifest = pd.read_csv(cxr4_mini / "MANIFEST.csv").groupby("class").head(2)
    paths = [str(cxr4_mini / p) for p in manifest["path"]]
    labels = np.array([list(classifier.class_names).index(c) for c in manifest["class"]])
    rows, predicted = occlusion_probe(classifier, paths, labels)
    assert [r["variant"] for r in rows] == ["whole", "border", "centre"] and predicted.shape == (8,)

"""predict / evaluate / explain and the Python API read the model config's ``evaluation`` settings.

``covid-cxr evaluate --run RUN`` must compute the intervals the run's own report computed (the run's
``evaluation.n_bootstrap`` and ``evaluation.seed``, as :func:`cxr_core.runs.directory.summarize_runs` does),
and ``--set evaluation.batch_size=N`` (which the help offers) must reach the prediction. A tiny-CNN
holdout run (tests/tiny_family.py) on separable synthetic images: one split, so the report's pooled
intervals are that fold's.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.tiny_family import write_separable_dataset

pytestmark = pytest.mark.slow

N_BOOT, SEED, BATCH = 30, 7, 5  # none of them the CLI's or EvaluationConfig's defaults (1000, 0, 32)


@pytest.fixture(scope="module")
def holdout_run(tiny_family, tmp_path_factory):
    import cxr_core

    root = tmp_path_factory.mktemp("evaluation_settings")
    write_separable_dataset(root / "data", per_class=8)
    return cxr_core.run_experiment(
        {"name": "tiny-eval", "preset": "tinycnn/paper",
         "protocol": {"kind": "holdout", "holdout_fraction": 0.5},
         "train": {"epochs": 1, "steps_per_epoch": 4},
         "evaluation": {"n_bootstrap": N_BOOT, "seed": SEED, "batch_size": BATCH}},
        data=root / "data", run_dir=root / "run")


@pytest.fixture
def batch_sizes(monkeypatch):
    """The batch size of every prediction dataset built while the test runs."""
    import cxr_core.data.pipeline as pipeline

    seen: list[int] = []
    real = pipeline.build_dataset

    def spy(*args, **kwargs):
        seen.append(kwargs["batch_size"])
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "build_dataset", spy)
    return seen


def _test_rows(run_dir: Path) -> tuple[list[str], pd.DataFrame]:
    """The fold's test images (absolute paths, in predictions.csv order) and their predictions."""
    import yaml

    preds = pd.read_csv(run_dir / "fold_0" / "predictions.csv")
    root = Path(yaml.safe_load((run_dir / "config.yaml").read_text())["config"]["data"]["source"])
    return [str(root / sid) for sid in preds["sample_id"]], preds


def _cli(*argv) -> int:
    from cxr_core.cli.main import main

    return main([str(a) for a in argv])


def test_evaluate_run_gives_the_runs_report_intervals(holdout_run, tmp_path, batch_sizes):
    run_dir = holdout_run.run_dir
    paths, preds = _test_rows(run_dir)
    manifest = tmp_path / "test_rows.csv"
    pd.DataFrame({"path": paths, "label": preds["label"]}).to_csv(manifest, index=False)
    out = tmp_path / "eval"
    assert _cli("evaluate", "--run", run_dir, "--data", manifest, "--out", out) == 0
    assert batch_sizes == [BATCH], "the run's evaluation.batch_size"
    got = pd.read_csv(out / "metrics_ci.csv", index_col=0)
    report = pd.read_csv(run_dir / "results_pooled_ci.csv", index_col=0)
    assert list(got.index) == list(report.index) and len(got)
    pd.testing.assert_frame_equal(got, report, check_exact=False, atol=1e-9)
    assert f"{N_BOOT} resamples, seed {SEED}" in (run_dir / "report.md").read_text()


def test_set_evaluation_batch_size_reaches_predict_evaluate_and_explain(holdout_run, tmp_path, batch_sizes):
    run_dir = holdout_run.run_dir
    paths, preds = _test_rows(run_dir)
    assert _cli("predict", "--run", run_dir, "--set", "evaluation.batch_size=3", *paths[:4]) == 0
    assert batch_sizes == [3]
    manifest = tmp_path / "rows.csv"
    pd.DataFrame({"path": paths, "label": preds["label"]}).to_csv(manifest, index=False)
    assert _cli("evaluate", "--run", run_dir, "--set", "evaluation.batch_size=2", "--n-bootstrap", "0",
                "--data", manifest, "--out", tmp_path / "eval") == 0
    assert batch_sizes == [3, 2]
    assert _cli("predict", "--run", run_dir, "--set", "evaluation.batch_size=3", "--batch-size", "4", *paths[:4]) == 0
    assert batch_sizes == [3, 2, 4], "--batch-size wins over the config"


def test_explain_takes_the_configs_batch_size(holdout_run, tmp_path, monkeypatch):
    import cxr_core.explain.overlays as explain

    seen = []
    real = explain.explain_images

    def spy(*args, **kwargs):
        seen.append(kwargs["batch_size"])
        return real(*args, **kwargs)

    monkeypatch.setattr(explain, "explain_images", spy)
    paths, _ = _test_rows(holdout_run.run_dir)
    assert _cli("explain", "--run", holdout_run.run_dir, "--out", tmp_path / "cams", *paths[:2]) == 0
    assert seen == [BATCH]


def test_classifier_predicts_and_preprocesses_in_the_configs_batch_size(holdout_run, batch_sizes):
    import cxr_core

    paths, preds = _test_rows(holdout_run.run_dir)
    clf = cxr_core.load_classifier(holdout_run.run_dir, overrides={"evaluation": {"batch_size": 6}})
    frame = clf.predict(paths)
    clf.preprocess(paths[:2])
    assert batch_sizes == [6, 6]
    assert list(frame["predicted"]) == list(preds["predicted"])
    clf.predict(paths[:2], batch_size=1)
    assert batch_sizes[-1] == 1

"""The study plan (seeds, runs, cv commands) and the statistics over seeds, against scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from cxr_core.study.plan import parse_seeds, seed_settings
from cxr_core.study.stats import seed_summary


def test_parse_seeds():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("3") == [3]
    assert parse_seeds("0-2,9,1") == [0, 1, 2, 9]
    for bad in ("", "a", "4-1", "-1", "1-x"):
        with pytest.raises(ValueError, match="--seeds"):
            parse_seeds(bad)


def test_seed_settings_vary():
    assert seed_settings(3) == ["protocol.seed=3", "train.seed=3"]
    assert seed_settings(3, "split") == ["protocol.seed=3"]
    assert seed_settings(3, "train") == ["train.seed=3"]
    with pytest.raises(ValueError, match="--vary"):
        seed_settings(3, "neither")


def test_seed_summary_matches_scipy_t_interval_and_anova():
    v = np.array([[80.0, 84.0, 82.0], [86.0, 85.0, 87.0], [78.0, 83.0, 79.0], [81.0, 82.0, 86.0]])
    means = v.mean(axis=1)
    low, high = stats.t.interval(0.95, len(means) - 1, loc=means.mean(), scale=stats.sem(means))
    s = seed_summary(v, published=90.0)
    assert s["mean"] == pytest.approx(means.mean()) and s["sd"] == pytest.approx(means.std(ddof=1))
    assert (s["low"], s["high"]) == (pytest.approx(low), pytest.approx(high))
    assert s["verdict"] == "above" and s["diff_sd"] == pytest.approx((means.mean() - 90) / means.std(ddof=1))
    # one-way random effects, balanced: MSW = mean within-seed variance; var_seed = (MSB - MSW) / K
    k = v.shape[1]
    msw = v.var(axis=1, ddof=1).mean()
    msb = k * means.var(ddof=1)
    assert s["var_fold"] == pytest.approx(msw) and s["var_seed"] == pytest.approx(max(0.0, (msb - msw) / k))
    assert seed_summary(v, published=means.mean())["verdict"] == "within"
    assert seed_summary(v, published=50.0)["verdict"] == "below"


def test_seed_summary_one_seed_has_no_verdict():
    s = seed_summary(np.array([[80.0, 90.0]]), published=85.0)
    assert s["verdict"] == "n/a" and np.isnan(s["low"]) and s["mean"] == 85.0 and s["var_fold"] == 50.0


def test_cv_namespace_reads_a_run_as_the_cv_command_does():
    from cxr_core.cli.main import build_parser
    from cxr_core.study.plan import cv_namespace

    args = ["exp.yaml", "--folds", "1", "--run-dir", "out/x/seed_2", "--data", "d", "--smoke",
            "--set", "train.epochs=3", "--set", "protocol.seed=2", "--set", "train.seed=2"]
    ours = vars(cv_namespace(args))
    theirs = {k: v for k, v in vars(build_parser().parse_args(["cv", *args])).items() if k not in ("command", "func")}
    assert ours == theirs

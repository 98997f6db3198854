"""Statistics over seeds: mean, spread, a t interval, the verdict against a published value and the
seed-to-seed and fold-to-fold parts of the variance.

The values of one metric form a matrix ``V[seed, fold]`` (percent). A seed's value is the mean of its
folds (the per-fold mean a run report gives). Over the ``n`` seeds: mean, sample standard deviation
``sd`` (ddof=1) and the two-sided 95% **t interval** ``mean +- t(0.975, n-1) * sd / sqrt(n)``
(Student's t over seeds, not a bootstrap; scipy.stats.t). The verdict places the published value
against that interval: ``within``, ``above`` (published above our interval: we score lower) or
``below`` (published below it: we score higher); ``diff_sd`` = (ours - published) / sd.

Variance parts (nested design: each seed draws its own splits, so folds are nested in seeds; one-way
random-effects ANOVA, method of moments): fold-to-fold = mean over seeds of the variance of the
folds within a seed; seed-to-seed = variance of the seed means minus fold-to-fold / K (clipped at
0), K the folds per seed. With one seed there is no interval and no verdict (``n/a``).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
VERDICTS = ("within", "above", "below", "n/a")


def seed_summary(values: np.ndarray, published: float = float("nan"), confidence: float = CONFIDENCE) -> dict:
    """Summary of a ``[seeds, folds]`` matrix (NaN = a fold not run) against ``published``.

    Returns ``mean``, ``sd``, ``low``, ``high``, ``n_seeds``, ``n_folds``, ``seed_values`` (list),
    ``published``, ``diff`` (mean - published), ``diff_sd``, ``verdict`` (:data:`VERDICTS`),
    ``var_seed``, ``var_fold``.
    """
    v = np.atleast_2d(np.asarray(values, dtype=float))
    seed_values = np.array([np.nanmean(row) if np.isfinite(row).any() else np.nan for row in v])
    seed_values = seed_values[np.isfinite(seed_values)]
    n = len(seed_values)
    nan = float("nan")
    mean = float(seed_values.mean()) if n else nan
    sd = float(seed_values.std(ddof=1)) if n > 1 else nan
    low = high = nan
    if n > 1:
        half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
        low, high = mean - half, mean + half
    per_seed_folds = [row[np.isfinite(row)] for row in v]
    fold_vars = [float(r.var(ddof=1)) for r in per_seed_folds if len(r) > 1]
    var_fold = float(np.mean(fold_vars)) if fold_vars else nan
    k = float(np.mean([len(r) for r in per_seed_folds if len(r)])) if n else nan
    var_seed = nan
    if n > 1:
        var_seed = float(seed_values.var(ddof=1)) - (var_fold / k if np.isfinite(var_fold) else 0.0)
        var_seed = max(0.0, var_seed)
    published = float(published)
    diff = mean - published if np.isfinite(published) else nan
    if not (np.isfinite(published) and np.isfinite(low)):
        verdict = "n/a"
    elif published > high:
        verdict = "above"
    elif published < low:
        verdict = "below"
    else:
        verdict = "within"
    diff_sd = diff / sd if np.isfinite(diff) and np.isfinite(sd) and sd > 0 else nan
    return {"mean": mean, "sd": sd, "low": low, "high": high, "n_seeds": n,
            "n_folds": int(round(k)) if np.isfinite(k) else 0, "seed_values": [float(x) for x in seed_values],
            "published": published, "diff": diff, "diff_sd": diff_sd, "verdict": verdict,
            "var_seed": var_seed, "var_fold": var_fold}

"""Expand a study (experiments x seeds x folds) into runs, each exactly one ``covid-cxr cv`` call.

Seed ``S`` repeats the whole protocol: it sets both ``protocol.seed`` (the splits) and ``train.seed``
(initial weights, data order), so run ``(S, K)`` of experiment ``EXP`` is::

    covid-cxr cv EXP --folds K --run-dir OUT/<name>/seed_S --set protocol.seed=S --set train.seed=S

with the study's ``--data``, ``--test-data``, ``--smoke`` and ``--set`` options in front of the seed
settings (the seed wins). ``vary="split"`` or ``"train"`` changes only one of the two seeds (the
other keeps the experiment's value); the study report says which. Each seed's folds share the run
directory ``OUT/<name>/seed_S``: a normal run directory that ``covid-cxr report``, ``evaluate --run``
and ``load_classifier`` read.
"""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence
from cxr_core.errors import CxrError

#: What a study seed sets: both seeds (the default), only the split seed, or only the training seed.
VARY = {"both": ("protocol.seed", "train.seed"), "split": ("protocol.seed",), "train": ("train.seed",)}


def parse_seeds(text: str) -> list[int]:
    """``"0-4"`` -> ``[0, 1, 2, 3, 4]``; ``"0,2,7"`` and mixtures (``"0-2,9"``); order kept, repeats dropped.

    Raises:
        CxrError: anything else, naming ``--seeds`` and the text found.
    """
    seeds: list[int] = []
    try:
        for part in str(text).split(","):
            part = part.strip()
            if not part:
                continue
            lo, _, hi = part.partition("-")
            first, last = int(lo), int(hi or lo)
            if first < 0 or last < first:
                raise CxrError
            seeds += range(first, last + 1)
    except ValueError:
        raise CxrError(f"--seeds: expected seeds like 0-4 or 0,1,5, found {text!r}") from None
    if not seeds:
        raise CxrError(f"--seeds: expected seeds like 0-4 or 0,1,5, found {text!r}")
    return list(dict.fromkeys(seeds))


@dataclass(frozen=True)
class StudyRun:
    """One run of a study: fold ``fold`` of experiment ``config`` with seed ``seed``.

    ``cv_args`` are the ``covid-cxr cv`` arguments of this run (without the program name); ``run_dir``
    is the seed's run directory ``OUT/<name>/seed_<seed>`` shared by its folds."""

    experiment: str
    name: str
    seed: int
    fold: int
    run_dir: Path
    cv_args: tuple[str, ...] = field(repr=False)
    smoke: bool = False

    @property
    def label(self) -> str:
        return f"{self.name} seed {self.seed} fold {self.fold}"

    @property
    def finished(self) -> bool:
        """Whether the run's fold has its predictions.csv (then it is never run again)."""
        from cxr_core.runs.directory import predictions_path

        return predictions_path(self.run_dir, self.fold).is_file()

    def command(self) -> str:
        """The ``covid-cxr cv ...`` line of this run, quoted for a POSIX shell."""
        return shlex.join(["covid-cxr", "cv", *self.cv_args])


def cv_namespace(args: Sequence[str]) -> argparse.Namespace:
    """``args`` read by the options of ``covid-cxr cv`` (:func:`cxr_core.cli.options.add_experiment_options`
    and ``--folds``), so a study run is configured by the same code as ``cv``
    (:func:`cxr_core.cli.options.experiment`)."""
    from cxr_core.cli.options import add_experiment_options

    parser = argparse.ArgumentParser(prog="covid-cxr cv")
    add_experiment_options(parser)
    parser.add_argument("--folds")
    return parser.parse_args(list(args))


def seed_settings(seed: int, vary: str = "both") -> list[str]:
    """``--set`` texts that a study seed adds (``protocol.seed=S``, ``train.seed=S``)."""
    if vary not in VARY:
        raise CxrError(f"--vary: expected one of {sorted(VARY)}, found {vary!r}")
    return [f"{key}={int(seed)}" for key in VARY[vary]]


def plan_study(configs: Sequence[str], seeds: Sequence[int], out: str | Path, *, folds: Sequence[int] | None = None,
               data: str | None = None, test_data: str | None = None, sets: Sequence[str] = (),
               smoke: bool = False, vary: str = "both") -> list[StudyRun]:
    """Every run of the study, experiment by experiment, then seed, then fold.

    ``folds``: only these folds (default every fold of each experiment's protocol). Raises
    :class:`~cxr_core.errors.CxrError` for a fold the protocol does not have or two experiments with the same name (their
    run directories would collide); :class:`cxr_core.config.schema.ConfigError` for a bad ``--set``.
    """
    from cxr_core.cli.options import experiment
    from cxr_core.protocol.split_files import n_splits

    out = Path(out)
    runs: list[StudyRun] = []
    names: dict[str, str] = {}
    for config in configs:
        for seed in seeds:
            base = [str(config)]
            base += ["--data", str(data)] if data else []
            base += ["--test-data", str(test_data)] if test_data else []
            base += ["--smoke"] if smoke else []
            for text in (*sets, *seed_settings(seed, vary)):
                base += ["--set", text]
            cfg = experiment(cv_namespace(base)).config
            if names.setdefault(cfg.name, str(config)) != str(config):
                raise CxrError(f"experiments {names[cfg.name]} and {config} are both named {cfg.name!r}; "
                                 "give one another name (--set name=... applies to all: run them as two studies)")
            count = n_splits(cfg)
            chosen = list(range(count)) if folds is None else list(folds)
            bad = [k for k in chosen if not 0 <= k < count]
            if bad:
                raise CxrError(f"--folds: fold {bad[0]} does not exist; {config} has folds 0..{count - 1}")
            run_dir = out / cfg.name / f"seed_{seed}"
            for k in chosen:
                args = (*base[:1], "--folds", str(k), "--run-dir", str(run_dir), *base[1:])
                runs.append(StudyRun(str(config), cfg.name, int(seed), int(k), run_dir, tuple(args), smoke))
    return runs

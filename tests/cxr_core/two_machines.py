"""What the session fixture ``coronet_two_machines`` (tests/cxr_core/conftest.py) runs: CoroNet's 4-fold
protocol in smoke size on real images, through the command line as two machines would (``covid-cxr cv
--folds 0,1`` into one run directory, ``--folds 2,3`` into another), merged with ``covid-cxr report``. Made once per session: ``cli/test_cli_folds.py`` checks the
command line's fold split and merge on it, ``protocol/test_protocol.py`` the run directories, the splits,
resuming and fold merging (two pairs of identical CoroNet runs cost about a minute and a half more on 2 CPU
cores, and asserted nothing the other pair does not).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

#: Table I's undersampling of the two large classes, cut to smoke size; the two pneumonia classes are not
#: named and keep every image (42 + 50 in cxr4-mini): 132 samples, 33 per test fold.
UNDERSAMPLE = {"covid": 20, "normal": 20}


@dataclass(frozen=True)
class TwoMachines:
    config: object  # the ExperimentConfig both machines ran (as ``covid-cxr cv`` resolved it)
    a: Path  # folds 0 and 1
    b: Path  # folds 2 and 3
    merged: Path  # covid-cxr report a b --out merged
    logs: list  # cxr_core's INFO lines of both runs


def coronet_cv_args(cxr4_mini: Path, run_dir: Path, folds: str) -> list[str]:
    counts = "{" + ", ".join(f"{c}: {n}" for c, n in UNDERSAMPLE.items()) + "}"
    return [
        "cv", str(REPO / "experiments/coronet/4class.yaml"), "--smoke",
        "--data", str(cxr4_mini / "MANIFEST.csv"),
        "--run-dir", str(run_dir), "--folds", folds,
        "--set", f"data.undersample={counts}",
        "--set", "protocol.group_by_patient=true",
        "--set", "model.backbone_weights=null",
        "--set", "train.steps_per_epoch=1", "--set", "train.validation_steps=1",
        "--set", "train.verbose=0",
        "--set", "evaluation.n_bootstrap=20",
    ]

"""What `covid-cxr study` adds over running its runs one after another (issue 18).

Runs a small study of the test-only tiny family (tests/tiny_family.py) twice on this machine: every run as
its own `covid-cxr cv` process, one after another (the baseline), then the same runs as a study on a local
Ray with one CPU (one run at a time, a fresh worker process per run, as the default). Prints the seconds of
both, Ray's start-up and the overhead = (study - start-up - baseline) / baseline.

    PYTHONPATH=. python benchmarks/study_overhead.py [--seeds 2] [--folds 2] [--out /tmp/study-overhead]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CV = ("import sys; from tests.cxr_core.study.study_data import register_tiny; register_tiny(); "
      "from cxr_core.cli.main import main; sys.exit(main(sys.argv[1:]))")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--out", default="/tmp/study-overhead")
    args = parser.parse_args()
    from tests.cxr_core.study.study_data import register_tiny
    from tests.tiny_family import write_separable_dataset

    register_tiny()
    from cxr_core.study.engine import run_study
    from cxr_core.study.plan import plan_study

    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    write_separable_dataset(out / "data", per_class=8)
    (out / "tiny.yaml").write_text("name: tiny\npreset: tinycnn/paper\n")
    plan = dict(folds=list(range(args.folds)), data=str(out / "data"), smoke=True)
    seeds = list(range(args.seeds))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    t0 = time.perf_counter()
    for run in plan_study([str(out / "tiny.yaml")], seeds, out / "alone", **plan):
        subprocess.run([sys.executable, "-c", CV, "-q", "cv", *run.cv_args], check=True, env=env)
    baseline = time.perf_counter() - t0
    runs = plan_study([str(out / "tiny.yaml")], seeds, out / "study", **plan)
    t0 = time.perf_counter()
    outcome = run_study(runs, engine="ray", num_cpus=1, setup="tests.cxr_core.study.study_data:register_tiny",
                        worker_env={"PYTHONPATH": env["PYTHONPATH"]}, progress=False)
    study = time.perf_counter() - t0
    added = study - outcome.startup_s - baseline
    print(f"{len(runs)} runs; one after another (cv processes): {baseline:.1f} s; study on local Ray, 1 CPU: "
          f"{study:.1f} s of which Ray start-up {outcome.startup_s:.1f} s; added beyond start-up "
          f"{added:+.1f} s = {100 * added / baseline:+.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())

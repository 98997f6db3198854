"""``covid-cxr study``: experiments x seeds x folds on Ray, and the study report; ``evaluate --probes``.

Registered by :func:`add_study_parser` from :func:`cxr_core.cli.main.build_parser`; the library is
:mod:`cxr_core.study` (plan, engine, report) and :mod:`cxr_core.evaluation.probes`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from cxr_core.errors import CxrError

log = logging.getLogger(__name__)


def cmd_study(args) -> int:
    from cxr_core.study.engine import StudyFailed, StudyInterrupted, run_study
    from cxr_core.study.plan import parse_seeds, plan_study
    from cxr_core.study.report import write_study_report

    if args.merge:
        if args.configs:
            raise CxrError("--merge OUT takes no experiment YAMLs: it reads the run directories under OUT")
        report = write_study_report(args.merge, probes=not args.no_probes)
        print(report)
        return 0
    if not args.configs:
        raise CxrError("give one or more experiment YAMLs (or --merge OUT)")
    from cxr_core.cli.options import parse_folds

    runs = plan_study(args.configs, parse_seeds(args.seeds), args.out, folds=parse_folds(args.folds),
                      data=args.data, test_data=args.test_data, sets=args.set or (), smoke=args.smoke,
                      vary=args.vary)
    if args.print_commands:
        for run in runs:
            print(run.command())
        print(f"# then: covid-cxr study --merge {args.out}", file=sys.stderr)
        return 0
    log.info("study: %d runs (%d finished earlier) into %s", len(runs), sum(r.finished for r in runs), args.out)
    try:
        outcome = run_study(runs, engine=args.engine, address=args.address, gpus_per_run=args.gpus_per_run,
                            cpus_per_run=args.cpus_per_run, max_retries=args.max_retries,
                            progress=not getattr(args, "quiet", False), fresh_workers=not args.reuse_workers)
    except StudyInterrupted as exc:
        print(f"covid-cxr study: {exc}", file=sys.stderr, flush=True)
        return 130
    except ImportError as exc:
        print(f"covid-cxr study: error: {exc}", file=sys.stderr)
        return 2
    except StudyFailed as exc:
        print(f"covid-cxr study: {exc}", file=sys.stderr)
        return 1
    log.info("study: %d runs now, %d skipped, %.0f s (Ray start-up %.1f s)", len(outcome.finished),
             len(outcome.skipped), outcome.wall_s, outcome.startup_s)
    report = write_study_report(args.out, [d for d in dict.fromkeys(r.run_dir for r in runs)],
                                probes=not args.no_probes)
    print(report)
    return 0


def add_study_parser(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "study", parents=[common],
        help="replication study: experiments x seeds x folds on Ray, verdicts against the published numbers",
        description="Run every fold of every experiment with every seed (seed S sets protocol.seed and "
                    "train.seed: run (S, K) is `covid-cxr cv EXP --folds K --set protocol.seed=S --set "
                    "train.seed=S`) as Ray tasks, into OUT/<experiment>/seed_<S>/ (normal run directories), "
                    "then write OUT/study.md: each published metric beside the mean over seeds, a 95%% t "
                    "interval and a verdict, with the data hazards and shortcut probes. Rerunning the command "
                    "resumes (finished runs are skipped).")
    p.add_argument("configs", nargs="*", help="experiment YAMLs")
    p.add_argument("--seeds", default="0-4", help="seeds, e.g. 0-4 or 0,3,7 (default 0-4)")
    p.add_argument("--out", default="runs/study", help="study folder (default runs/study)")
    p.add_argument("--folds", help="only these folds of each experiment, e.g. 0,1 (default all)")
    p.add_argument("--data", help="dataset, as for cv (data.source)")
    p.add_argument("--test-data", help="fixed test split, as for cv (data.test_source)")
    p.add_argument("--smoke", action="store_true", help="smoke size, as for cv")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="config override for every run, as for cv "
                   "(the study seed is set after these)")
    p.add_argument("--vary", choices=["both", "split", "train"], default="both",
                   help="what a seed changes: both seeds (default), only protocol.seed, or only train.seed")
    p.add_argument("--engine", choices=["ray", "serial"], default="ray",
                   help="ray (default; pip install 'covid-cxr-tf[ray]') or serial (one run after another here)")
    p.add_argument("--address", help="join this Ray cluster (auto, HOST:PORT); default: start Ray on this machine")
    p.add_argument("--gpus-per-run", type=float, default=0.0,
                   help="GPUs per run (Ray num_gpus); 0.25 puts four runs on one GPU (default 0: CPU)")
    p.add_argument("--cpus-per-run", type=float, default=1.0, help="CPUs per run (Ray num_cpus, default 1)")
    p.add_argument("--max-retries", type=int, default=3, help="retries of a run whose worker died (default 3)")
    p.add_argument("--reuse-workers", action="store_true",
                   help="let a Ray worker run several runs one after another (saves a TensorFlow start per run; "
                        "default: a fresh process per run, as `cv` alone)")
    p.add_argument("--print-commands", action="store_true",
                   help="print one `covid-cxr cv` line per run (for a SLURM array or any scheduler) and exit")
    p.add_argument("--merge", metavar="OUT", help="only write OUT/study.md from the run directories under OUT")
    p.add_argument("--no-probes", action="store_true", help="leave the shortcut probes out of the study report")
    p.set_defaults(func=cmd_study)


def add_probes_option(p: argparse.ArgumentParser) -> None:
    """``evaluate --probes``: the shortcut probes of ``--run RUN --fold K`` instead of evaluating ``--data``."""
    p.add_argument("--probes", action="store_true",
                   help="with --run RUN --fold K: the shortcut probes of that fold (thumbnail baseline, source "
                        "probe, lungs hidden / centre only) into OUT/probes.md and CSVs; --data is not needed")


def cmd_probes(args) -> int:
    """``covid-cxr evaluate --run RUN --fold K --probes``."""
    from cxr_core.evaluation.probes import run_probes, write_probe_files
    from cxr_core.inference.run_model import split_run_path

    if not args.run:
        raise CxrError("--probes needs --run RUN_DIR (and --fold K for a k-fold run)")
    run_dir, fold = split_run_path(args.run, args.fold)
    if fold is None:
        from cxr_core.inference.run_model import finished_folds, run_config

        if run_config(run_dir).protocol.kind == "kfold":
            raise CxrError(f"--probes on the k-fold run {run_dir} needs --fold K (the fold whose test images are "
                           f"probed; finished folds: {', '.join(map(str, finished_folds(run_dir))) or 'none'})")
        fold = 0
    result = run_probes(run_dir, fold, write=False)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_probe_files(out, result)
    print(result.scores.round(4).to_string(index=False))
    print(f"probes in {out / 'probes.md'}")
    return 0

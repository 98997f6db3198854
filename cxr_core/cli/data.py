"""The ``covid-cxr data`` sub-commands of the CLI: ``build`` (a paper's data set from public sources)
and ``audit``.

Part of the CLI layer with :mod:`cxr_core.cli.main` and :mod:`cxr_core.cli.options`: :func:`add_data_parser`
adds the sub-parsers to the ``covid-cxr`` parser (called from :func:`cxr_core.cli.main.build_parser`); the
work is done by
:func:`cxr_core.data.build.assemble.build_dataset_from_recipe` and :func:`cxr_core.data.audit.checks.audit_dataset`.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from cxr_core.errors import EXPLAINED_OS_ERRORS, CxrError

SOURCES_HELP = ("ieee8023 (github ieee8023/covid-chestxray-dataset), kermany (Kaggle chest-xray-pneumonia / "
                "Mendeley rscbjbr9sj), covid-ct (github UCSD-AI4H/COVID-CT), figure1, actualmed "
                "(github agchung/...), rsna (Kaggle rsna-pneumonia-detection-challenge), radiography "
                "(Kaggle covid19-radiography-database), ozturk (github muhammedtalo/COVID-19)")


def _recipe_list() -> str:
    from cxr_core.family import iter_families

    lines = []
    for family in iter_families():
        for name, recipe in family.data.recipes.items():
            state = "" if recipe.available else " [not buildable: sources unpublished]"
            needs = (", ".join(recipe.sources)
                     or ("any of " + ", ".join(recipe.optional_sources) if recipe.optional_sources else "none published"))
            if recipe.sources and recipe.optional_sources:
                needs += "; optional: " + ", ".join(recipe.optional_sources)
            lines.append(f"  {name}: {recipe.description} (sources: {needs}){state}")
    return "\n".join(lines)


def cmd_data_build(args) -> int:
    from cxr_core.data.build.assemble import build_dataset_from_recipe, parse_source_options

    if args.recipe == "list":
        print(_recipe_list())
        return 0
    if not args.out:
        print("covid-cxr data build: --out DIR is required", file=sys.stderr)
        return 2
    try:
        manifest = build_dataset_from_recipe(
            args.recipe, parse_source_options(args.source), args.out, seed=args.seed, link=args.link,
            counts=args.counts, split_files=args.split_file or (),
            command="covid-cxr " + " ".join(shlex.quote(a) for a in sys.argv[1:]))
    except (CxrError, *EXPLAINED_OS_ERRORS) as exc:  # BuildError, SourceError, ...
        print(f"covid-cxr data build: {exc}", file=sys.stderr)
        return 2
    counts = manifest.groupby(["subset", "label"]).size()
    print(f"wrote {len(manifest)} files into {args.out} (MANIFEST.csv, BUILD.md)")
    for (subset, label), n in counts.items():
        print(f"  {subset + '/' if subset else ''}{label}: {n}")
    for line in manifest.attrs.get("summary", ()):
        print(line)
    return 0


def cmd_data_audit(args) -> int:
    from cxr_core.data.audit.checks import audit_dataset

    try:
        threshold = {} if args.threshold is None else {"threshold": args.threshold}
        result = audit_dataset(args.data, args.out, splits=args.splits, **threshold,
                               num_threads=args.threads)
    except (CxrError, *EXPLAINED_OS_ERRORS) as exc:
        print(f"covid-cxr data audit: {exc}", file=sys.stderr)
        return 2
    n_groups = result.groups["group"].nunique() if len(result.groups) else 0
    print(f"audited {len(result.records)} images in {result.seconds:.1f} s: {n_groups} duplicate groups, "
          f"{result.cross_label_groups} under two labels, {len(result.leaks)} split leaks, "
          f"{len(result.flags)} shortcut flags -> {args.out}/audit.md")
    for flag in result.flags:
        print(f"  {flag}")
    return 1 if result.cross_label_groups or len(result.leaks) else 0


def add_data_parser(sub) -> argparse.ArgumentParser:
    """Add ``data build`` and ``data audit`` to the sub-parsers ``sub`` of ``covid-cxr``."""
    p = sub.add_parser("data", help="build a paper's data set from the public sources, or audit a data set",
                       description="Build a paper's data set from public sources, or audit one for duplicates, "
                                   "leaks across splits and source shortcuts.")
    dsub = p.add_subparsers(dest="data_command", required=True, metavar="{build,audit}")
    b = dsub.add_parser("build", help="assemble a paper's data set (MANIFEST.csv, BUILD.md) from public sources",
                        formatter_class=argparse.RawDescriptionHelpFormatter,
                        description="Assemble a paper's data set from public sources in their download layouts.\n"
                                    "Give RECIPE 'list' to see the recipes.",
                        epilog="sources: " + SOURCES_HELP)
    b.add_argument("recipe", metavar="RECIPE", help="a recipe of a registered model family (give 'list' to see them all)")
    b.add_argument("--source", action="append", default=[], metavar="NAME=PATH",
                   help="a public source and the folder it was downloaded/unpacked to (repeatable)")
    b.add_argument("--out", metavar="DIR", help="new (or empty) folder to write the data set into")
    b.add_argument("--seed", type=int, default=0, help="seed of the under-sampling draws (default 0)")
    b.add_argument("--link", action="store_true", help="hard-link the source files instead of copying them")
    b.add_argument("--counts", choices=("published", "all"), default="published",
                   help="published: under-sample to the paper's counts (default); all: keep the whole pool")
    b.add_argument("--split-file", action="append", metavar="PATH",
                   help="COVIDx split file (covidx recipe; repeatable; a name containing 'test' fills test/)")
    b.set_defaults(func=cmd_data_build)
    a = dsub.add_parser("audit", help="duplicates, near-duplicates, split leaks and source shortcuts of a data set")
    a.add_argument("data", metavar="DATA", help="folder with MANIFEST.csv, class-folder tree, CSV manifest or "
                   "COVIDx split file")
    a.add_argument("--splits", metavar="RUN_DIR", help="a run directory (splits/fold_k.csv) or split CSV(s); "
                   "a data build output whose MANIFEST.csv has train and test subsets is checked as a split without it")
    a.add_argument("--out", required=True, metavar="DIR", help="folder for audit.md, CSVs and montages")
    a.add_argument("--threshold", type=int, default=None,
                   help="pHash Hamming distance of a candidate duplicate pair, verified by keypoints after (default: "
                        "cxr_core.data.audit.duplicates.CANDIDATE_DISTANCE, 8)")
    a.add_argument("--threads", type=int, default=2, help="decoding threads (default 2)")
    a.set_defaults(func=cmd_data_audit)
    return p


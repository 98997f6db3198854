"""Build a paper's data set from public sources: copy or hard-link files, write MANIFEST.csv and BUILD.md.

A :class:`Recipe` (from a paper package, through the family interface's ``recipes``) turns the
sources the user names into a :class:`BuildPlan`: one :class:`BuildItem` per output file, the
published counts to compare against, and every source file or split row it could not use.
:func:`execute_plan` then writes ``OUT``:

- the files, copied (default) or hard-linked (``link=True``; a cross-device link falls back to a
  copy and BUILD.md counts those); a file needed twice inside ``OUT`` (CVR-Net's three tasks share
  their images) is written once and hard-linked inside ``OUT``; DICOM items are converted to 8-bit
  PNG (:mod:`cxr_core.data.decode.dicom`); ``gray_png`` items are converted like COVIDx converted the
  COVID-19 Radiography Database (``cv2.imread`` then ``cv2.cvtColor(BGR2GRAY)``, PNG) [CNet@1914bcb];
- ``MANIFEST.csv``: ``path,label,patient_id,source,source_path,sha256,subset`` (``path`` relative to
  ``OUT``, ``sha256`` of the written file's bytes), rows sorted by path; a recipe with subsets
  (``task1/``, ``train/`` ...) also gets ``OUT/<subset>/MANIFEST.csv`` (paths relative to that folder),
  so ``--data OUT/<subset>`` and ``covid-cxr data audit OUT/<subset>`` see its sources and patients;
- ``BUILD.md``: counts found versus published per subset and class, and every file or row not used,
  with the reason.

Safety and reproducibility: output paths must be relative and free of ``..`` (:class:`BuildError`
otherwise, naming the item); ``OUT`` must be absent or empty; everything is written into a
temporary sibling folder that is renamed to ``OUT`` only when complete, so an interrupted build
leaves no half-built data set. The same sources and seed give the same files and the same
MANIFEST.csv.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from cxr_core.data.decode.dicom import dicom_to_png_bytes, is_dicom_path
from cxr_core.data.build.layout import SourceSamples, safe_relative_name
from cxr_core.atomic_files import atomic_write_text, file_sha256
from cxr_core.errors import CxrError

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = ("path", "label", "patient_id", "source", "source_path", "sha256", "subset")
CONVERSIONS = (None, "dicom_png", "gray_png")


class BuildError(CxrError):
    """A recipe that cannot be built as asked (message names the recipe, source, file or row)."""


@dataclass(frozen=True)
class BuildItem:
    """One output file: ``dest`` (posix, relative to OUT) from ``source_file`` (absolute)."""

    dest: str
    label: str
    source: str
    source_file: str
    source_path: str
    patient_id: str | None = None
    subset: str = ""
    convert: str | None = None


@dataclass
class BuildPlan:
    """What a recipe wants written, what it compares against and what it could not use.

    ``published``: ``{subset: {label: count}}`` (``""`` for a single-subset recipe); ``skipped``:
    ``(source, path or row, reason)``; ``notes``: lines for BUILD.md (choices, deviations, sources).
    """

    recipe: str
    items: list[BuildItem] = field(default_factory=list)
    published: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    pool: dict[str, dict[str, int]] = field(default_factory=dict)
    extra_files: dict[str, str] = field(default_factory=dict)
    """Non-image files copied verbatim (e.g. the COVIDx split files): dest -> source file."""
    expected_from: str = "published"
    """Where ``published`` comes from, for BUILD.md's column header and the console (``split file``...)."""

    def add_source_skips(self, samples: SourceSamples) -> None:
        self.skipped.extend((samples.source, p, r) for p, r in samples.skipped.itertuples(index=False))
        self.notes.append(f"source {samples.source}: {samples.root} ({samples.layout}); "
                          f"{len(samples.frame)} usable images, {len(samples.skipped)} entries not used")
        self.notes.extend(f"source {samples.source}: {n}" for n in samples.notes)


@dataclass(frozen=True)
class RecipeInputs:
    """What the user gave: ``sources`` (name -> folder), ``seed``, ``counts`` (``"published"`` or
    ``"all"``), ``split_files`` (COVIDx split files)."""

    sources: Mapping[str, Path]
    seed: int = 0
    counts: str = "published"
    split_files: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Recipe:
    """How to assemble one published data set. ``plan(inputs) -> BuildPlan``.

    ``sources``: required source names; ``optional_sources``: used when given; ``available=False``
    marks a data set whose sources are not published (``plan`` is then never called and the build
    stops with ``unavailable_reason``).
    """

    name: str
    description: str
    plan: Callable[[RecipeInputs], BuildPlan] | None
    sources: tuple[str, ...] = ()
    optional_sources: tuple[str, ...] = ()
    available: bool = True
    unavailable_reason: str = ""
    uses_split_files: bool = False


# --------------------------------------------------------------------------------------- helpers
def undersample_frame(frame: pd.DataFrame, counts: Mapping[str, int], seed: int) -> tuple[pd.DataFrame, list[str]]:
    """Rows of ``frame`` cut to ``counts[label]`` per label, drawn with ``numpy.random.default_rng(seed)``.

    Labels are visited in sorted order, rows in ``source_path`` order, so the draw depends only on the
    files and the seed. A label with fewer rows than asked keeps them all (a note says so); labels
    not in ``counts`` keep all rows. Returns the kept rows (sorted by ``source_path``) and notes.
    """
    rng = np.random.default_rng(seed)
    frame = frame.sort_values("source_path", kind="stable").reset_index(drop=True)
    keep = np.ones(len(frame), dtype=bool)
    notes = []
    for label in sorted(frame["label"].unique()):
        if label not in counts:
            continue
        idx = np.flatnonzero(frame["label"].to_numpy() == label)
        want = int(counts[label])
        if len(idx) < want:
            notes.append(f"{label}: {len(idx)} found, fewer than the {want} published; all kept")
            continue
        chosen = np.zeros(len(idx), dtype=bool)
        chosen[rng.choice(len(idx), size=want, replace=False)] = True
        keep[idx[~chosen]] = False
    return frame[keep].reset_index(drop=True), notes


def items_from_frame(frame: pd.DataFrame, folder_of: Mapping[str, str], *, subset: str = "",
                     prefix: str = "", label_of: Mapping[str, str] | None = None) -> list[BuildItem]:
    """One item per row: ``<prefix>/<folder_of[label]>/<file name>`` (names made unique per folder by
    prefixing the source, then the source path, when two files share a name). The item's label is
    ``label_of[folder]`` (default: the folder name); DICOM files become ``.png`` (converted)."""
    items, taken = [], set()
    for r in frame.sort_values(["source", "source_path"], kind="stable").itertuples(index=False):
        folder = folder_of[r.label]
        name = Path(r.path).name
        if is_dicom_path(name):
            name = Path(name).with_suffix(".png").name
        dest = "/".join(p for p in (prefix, folder, name) if p)
        if dest in taken:
            dest = "/".join(p for p in (prefix, folder, f"{r.source}_{name}") if p)
        if dest in taken:
            flat = r.source_path.replace("/", "_")
            dest = "/".join(p for p in (prefix, folder, f"{r.source}_{flat}") if p)
        taken.add(dest)
        items.append(BuildItem(dest=dest, label=(label_of or {}).get(folder, folder), source=r.source,
                               source_file=r.path, source_path=r.source_path,
                               patient_id=None if pd.isna(r.patient_id) else r.patient_id, subset=subset,
                               convert="dicom_png" if is_dicom_path(r.path) else None))
    return items


def label_counts(items: Sequence[BuildItem]) -> dict[str, dict[str, int]]:
    """``{subset: {label: count}}`` of ``items``."""
    out: dict[str, dict[str, int]] = {}
    for it in items:
        out.setdefault(it.subset, {}).setdefault(it.label, 0)
        out[it.subset][it.label] += 1
    return out


def _check_dest(item: BuildItem) -> str:
    dest = safe_relative_name(item.dest, f"output path of {item.source}:{item.source_path}")
    parts = PurePosixPath(dest).parts
    if dest in ("", ".") or parts[0] in ("MANIFEST.csv", "BUILD.md"):
        raise BuildError(f"output path {dest!r} for {item.source_path} is reserved")
    return dest


def _gray_png_bytes(path: str) -> bytes:
    import cv2

    image = cv2.imread(path)  # BGR, as COVIDx read the Radiography Database [CNet@1914bcb]
    if image is None:
        raise BuildError(f"{path}: OpenCV cannot read this image")
    ok, buf = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
    if not ok:
        raise BuildError(f"{path}: OpenCV cannot encode it as PNG")
    return buf.tobytes()


# --------------------------------------------------------------------------------------- execution
def execute_plan(plan: BuildPlan, out, *, link: bool = False, seed: int | None = None,
                 command: str = "") -> pd.DataFrame:
    """Write ``plan`` into ``out`` (see the module docstring); returns the manifest frame."""
    out = Path(os.path.abspath(os.fspath(out)))
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BuildError(f"--out {out}: exists and is not an empty folder; choose a new folder")
    if not plan.items:
        first = "; ".join(f"{where}: {why}" for _, where, why in plan.skipped[:3])
        raise BuildError(f"recipe {plan.recipe}: no images to write: {len(plan.skipped)} source entries not used"
                         + (f", first: {first}" if first else ""))
    dests = {}
    for it in plan.items:
        dest = _check_dest(it)
        if dest in dests:
            raise BuildError(f"recipe {plan.recipe}: {dest} would be written twice "
                             f"({dests[dest].source_path} and {it.source_path})")
        dests[dest] = it
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    rows, written, fallbacks = [], {}, 0
    try:
        for dest in sorted(dests):
            it = dests[dest]
            target = work / dest
            target.parent.mkdir(parents=True, exist_ok=True)
            key = (it.source_file, it.convert)
            if key in written:  # the same source file already placed inside OUT: link to it
                try:
                    os.link(written[key], target)
                except OSError:
                    shutil.copyfile(written[key], target)
            elif it.convert == "dicom_png":
                target.write_bytes(dicom_to_png_bytes(it.source_file))
            elif it.convert == "gray_png":
                target.write_bytes(_gray_png_bytes(it.source_file))
            elif link:
                try:
                    os.link(it.source_file, target)
                except OSError:
                    shutil.copyfile(it.source_file, target)
                    fallbacks += 1
            else:
                shutil.copyfile(it.source_file, target)
            written.setdefault(key, target)
            rows.append({"path": dest, "label": it.label, "patient_id": it.patient_id or "", "source": it.source,
                         "source_path": it.source_path, "sha256": file_sha256(target), "subset": it.subset})
        for dest, src in sorted(plan.extra_files.items()):
            dest = safe_relative_name(dest, f"extra file of recipe {plan.recipe}")
            if dest in dests:
                raise BuildError(f"recipe {plan.recipe}: {dest} is both an image and an extra file")
            (work / dest).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, work / dest)
        manifest = pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS))
        manifest.to_csv(work / "MANIFEST.csv", index=False)
        for subset, part in manifest.groupby("subset"):
            if subset and part["path"].str.startswith(f"{subset}/").all():  # OUT/<subset>/ is a data set too
                part.assign(path=part["path"].str.slice(len(subset) + 1)).to_csv(work / subset / "MANIFEST.csv", index=False)
        atomic_write_text(work / "BUILD.md", build_markdown(plan, manifest, link=link, seed=seed,
                                                            fallbacks=fallbacks, command=command))
        if out.exists():
            out.rmdir()
        from cxr_core.atomic_files import umask_mode

        os.chmod(work, umask_mode(folder=True))  # mkdtemp made it 0700
        os.replace(work, out)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    log.info("built %s: %d files into %s", plan.recipe, len(rows), out)
    manifest.attrs["summary"] = console_summary(plan, manifest)
    return manifest


def _md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return lines


def build_markdown(plan: BuildPlan, manifest: pd.DataFrame, *, link: bool, seed: int | None,
                   fallbacks: int = 0, command: str = "") -> str:
    """BUILD.md: counts found versus expected (published, or the split files' own), what is empty, notes,
    and every entry not used."""
    lines = [f"# Data set built by recipe `{plan.recipe}`", ""]
    if command:
        lines += ["```", command, "```", ""]
    lines += [f"- files: {len(manifest)} ({'hard links where possible' if link else 'copies'}"
              + (f"; {fallbacks} copied because a hard link was impossible" if fallbacks else "") + ")",
              f"- seed: {seed}", "- MANIFEST.csv: path,label,patient_id,source,source_path,sha256,subset", "",
              f"## Counts: found versus {plan.expected_from}", ""]
    table = [(subset or "(all)", label, n, "" if pub is None else pub, "" if pub is None else f"{n - pub:+d}", pool)
             for subset, label, n, pub, pool in count_rows(plan, manifest)]
    lines += _md_table(("subset", "label", "built", f"expected ({plan.expected_from})", "difference",
                        "pool available"), table)
    empty = empty_parts(plan, manifest)
    if empty:
        lines += ["", "## Empty", ""] + [f"- {e}" for e in empty]
    if plan.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in plan.notes]
    lines += ["", f"## Not used ({len(plan.skipped)})", ""]
    if plan.skipped:
        lines += _md_table(("source", "file or row", "reason"), plan.skipped)
    else:
        lines.append("Every file and row of the sources was used.")
    return "\n".join(lines) + "\n"


def count_rows(plan: BuildPlan, manifest: pd.DataFrame) -> list[tuple[str, str, int, int | None, Any]]:
    """``(subset, label, built, expected or None, pool or "")`` for every built or expected (subset, label)."""
    found = manifest.groupby(["subset", "label"]).size().to_dict()
    keys = sorted(set(found) | {(s, lab) for s, d in plan.published.items() for lab in d})
    return [(subset, label, int(found.get((subset, label), 0)), plan.published.get(subset, {}).get(label),
             plan.pool.get(subset, {}).get(label, "")) for subset, label in keys]


def empty_parts(plan: BuildPlan, manifest: pd.DataFrame) -> list[str]:
    """A subset (``test/``) or a class that was expected but got no image, one line each."""
    built = manifest.groupby("subset").size().to_dict()
    out = [f"{subset}/ is empty: none of its {sum(plan.published[subset].values())} expected images was found"
           for subset in sorted(plan.published) if subset and not built.get(subset)]
    empty_subsets = {subset for subset in plan.published if subset and not built.get(subset)}
    out += [f"{subset + '/' if subset else ''}{label} is empty: 0 of {pub} expected images"
            for subset, label, n, pub, _ in count_rows(plan, manifest)
            if pub and not n and subset not in empty_subsets]
    return out


#: Reasons whose entries the console lists one by one (the rest only counted): they need a person's look.
LISTED_ON_CONSOLE = ("file named by two patients", "no metadata.csv row names this file")


def console_summary(plan: BuildPlan, manifest: pd.DataFrame) -> list[str]:
    """The lines ``covid-cxr data build`` ends with: what is empty, entries not used, and the shortfall
    against the expected counts (published, or the split files' own), one line per class short."""
    lines = [f"EMPTY: {e}" for e in empty_parts(plan, manifest)]
    if plan.skipped:
        reasons: dict[str, list[tuple[str, str]]] = {}
        for _, where, why in plan.skipped:
            key = re.sub(r"'[^']*'", "'...'", why.split(":")[0].split(" (")[0])
            reasons.setdefault(key, []).append((where, why))
        top = sorted(reasons.items(), key=lambda kv: -len(kv[1]))
        lines.append(f"not used: {len(plan.skipped)} source entries ("
                     + ", ".join(f"{len(v)} {why}" for why, v in top[:8]) + (", ..." if len(top) > 8 else "")
                     + "); every one is listed in BUILD.md")
        for key in LISTED_ON_CONSOLE:
            for where, why in reasons.get(key, [])[:10]:
                lines.append(f"  {Path(where).name}: {why}")
            if len(reasons.get(key, [])) > 10:
                lines.append(f"  ... {len(reasons[key]) - 10} more ({key})")
    short = [(subset, label, n, pub) for subset, label, n, pub, _ in count_rows(plan, manifest)
             if pub is not None and n != pub]
    if not plan.published:
        lines.append(f"no {plan.expected_from} counts to compare with")
    elif short:
        lines.append(f"shortfall against the {plan.expected_from} counts:")
        lines += [f"  {subset + '/' if subset else ''}{label}: {n} of {pub} ({n - pub:+d})" for subset, label, n, pub in short]
    else:
        lines.append(f"every class has its {plan.expected_from} count")
    return lines


# --------------------------------------------------------------------------------------- entry point
def find_recipe(name: str) -> Recipe:
    """The recipe called ``name`` from any registered family; the error lists them all."""
    from cxr_core.family import iter_families

    known = {}
    for family in iter_families():
        for key, recipe in family.data.recipes.items():
            known[key] = recipe
    if name not in known:
        raise BuildError(f"unknown recipe {name!r}; recipes: {sorted(known)}")
    return known[name]


def parse_source_options(texts: Sequence[str]) -> dict[str, Path]:
    """``["kermany=/data/chest_xray", ...]`` -> ``{"kermany": Path(...)}``; errors in CLI terms."""
    out: dict[str, Path] = {}
    for text in texts or ():
        name, sep, path = text.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise BuildError(f"--source {text!r}: expected NAME=PATH, e.g. --source kermany=/data/chest_xray")
        if name.strip() in out:
            raise BuildError(f"--source {name.strip()} given twice")
        out[name.strip()] = Path(path.strip()).expanduser()
    return out


def build_dataset_from_recipe(recipe: str | Recipe, sources: Mapping[str, Any], out, *, seed: int = 0,
                              link: bool = False, counts: str = "published", split_files: Sequence[Any] = (),
                              command: str = "") -> pd.DataFrame:
    """Build ``recipe`` from ``sources`` (name -> folder) into ``out``; returns the manifest.

    Raises :class:`BuildError` (unknown recipe, unpublished sources, missing or unknown ``--source``,
    unusable output folder) or :class:`cxr_core.data.build.layout.SourceError` (layout problems).
    """
    r = find_recipe(recipe) if isinstance(recipe, str) else recipe
    if not r.available:
        raise BuildError(f"recipe {r.name}: {r.unavailable_reason}")
    if counts not in ("published", "all"):
        raise BuildError(f"--counts must be 'published' or 'all'; got {counts!r}")
    given = {k: Path(v) for k, v in sources.items()}
    if not given:
        raise BuildError(f"recipe {r.name} needs at least one --source NAME=PATH "
                         f"(it uses {list(r.sources + r.optional_sources)})")
    missing = [s for s in r.sources if s not in given]
    if missing:
        raise BuildError(f"recipe {r.name} needs --source {' --source '.join(f'{m}=PATH' for m in missing)}")
    unknown = [s for s in given if s not in r.sources + r.optional_sources]
    if unknown:
        raise BuildError(f"recipe {r.name} does not use source(s) {unknown}; it uses {list(r.sources + r.optional_sources)}")
    if r.uses_split_files and not split_files:
        raise BuildError(f"recipe {r.name} needs at least one --split-file PATH")
    if split_files and not r.uses_split_files:
        raise BuildError(f"recipe {r.name} takes no --split-file")
    plan = r.plan(RecipeInputs(given, int(seed), counts, tuple(Path(p) for p in split_files)))
    return execute_plan(plan, out, link=link, seed=seed, command=command)


__all__ = [
    "BuildError", "BuildItem", "BuildPlan", "Recipe", "RecipeInputs", "build_dataset_from_recipe",
    "execute_plan", "find_recipe", "items_from_frame", "label_counts", "parse_source_options",
    "undersample_frame",
]

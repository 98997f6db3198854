"""Every ``docs/...`` and ``§`` reference in code, tests and docs resolves inside the repository.

The provenance trail (source tags, "docs/PAPERS.md §3.1", "docs/PAPERS.md §1.7 item 5") must be
checkable from a clone alone:

- a ``docs/<path>`` mention names a file that exists;
- a ``§x.y`` names a numbered heading (``## x.`` / ``### x.y``) of the document mentioned just before it
  (same paragraph; ``docs/PAPERS.md §3.5, §4`` is two references to docs/PAPERS.md); inside docs/ a
  ``§`` with no document before it refers to its own file; ``item 5`` / ``items 5, 7`` after it name
  numbered list items of that section;
- the project's documents are named by their path in the repository (``docs/PAPERS.md``), never by a
  bare name or a path outside it (``spec/PAPERS.md``, ``../shared/...md``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

#: where references live; build outputs, virtual environments and run directories are not scanned
SCANNED_DIRS = ("cxr_core", "coronet_tf", "cvrnet_tf", "coronanet_tf", "tests", "docs", "experiments",
                "notebooks", "benchmarks", ".ci")
SCANNED_TOP = ("README.md", "setup.cfg", "pyproject.toml")
SUFFIXES = {".py", ".md", ".yaml", ".yml", ".cfg", ".toml", ".ipynb", ".sh", ".txt"}
SKIPPED_PARTS = {"__pycache__", ".venv", "build", "dist", ".git"}

#: document names this project uses or once used for its own documents (outside the repository)
PROJECT_DOC_NAMES = {"PAPERS.md", "DESIGN.md", "VERIFIED.md", "SOURCES.md", "FIDELITY.md", "INTERFACES.md"}

DOC_MENTION = re.compile(r"(?P<path>(?:\.\./)*docs/[\w./-]+?\.md|\b[A-Z][A-Z_]+\.md)")
DOCS_PATH = re.compile(r"(?<![\w.-])(?:\.\./)*docs/[\w./-]*[\w-]")
SECTION = re.compile(r"§\s?(?P<number>\d+(?:\.\d+)*)(?P<items>\s+items?\s+\d+(?:\s*(?:,|and)\s*\d+)*)?")
HEADING = re.compile(r"^#{1,6}\s+(?P<number>\d+(?:\.\d+)*)\.?\s", re.MULTILINE)
ITEM = re.compile(r"^(?P<number>\d+)\.\s", re.MULTILINE)
OUTSIDE_PATHS = re.compile(r"shared/spec/|/work/shared/[\w/-]*\.md|\.\./shared/[\w/-]*\.md|(?<![\w/])spec/[A-Z]+\.md")
#: attribution window: the document must be named at most this many characters before the ``§``
WINDOW = 300


def _scanned_files() -> list[Path]:
    files = [ROOT / name for name in SCANNED_TOP if (ROOT / name).is_file()]
    for top in SCANNED_DIRS:
        for path in sorted((ROOT / top).rglob("*")):
            if (path.is_file() and path.suffix in SUFFIXES and not SKIPPED_PARTS & set(path.parts)
                    and path != Path(__file__).resolve()):  # this file's examples are meant not to resolve
                files.append(path)
    return files


@lru_cache(maxsize=None)
def _sections(doc: Path) -> dict[str, str]:
    """``{"3.1": body text up to the next heading}`` of a Markdown document's numbered headings."""
    text = doc.read_text(encoding="utf-8")
    starts = [(m.start(), m.end(), m.group("number")) for m in HEADING.finditer(text)]
    any_heading = [m.start() for m in re.finditer(r"^#{1,6}\s", text, re.MULTILINE)] + [len(text)]
    sections = {}
    for start, body_start, number in starts:
        end = min(h for h in any_heading if h > start)
        sections[number] = text[body_start:end]
    return sections


@dataclass(frozen=True)
class Reference:
    where: str   # file:line
    doc: Path | None
    number: str
    items: tuple[int, ...]


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _section_references(path: Path, text: str) -> list[Reference]:
    rel = path.relative_to(ROOT).as_posix()
    mentions = list(DOC_MENTION.finditer(text))
    refs = []
    for m in SECTION.finditer(text):
        before = [d for d in mentions if d.end() <= m.start()]
        doc = None
        if before:
            last = before[-1]
            gap = text[last.end():m.start()]
            if len(gap) <= WINDOW and not re.search(r"\n\s*\n", gap):
                name = last.group("path")
                doc = ROOT / name[name.index("docs/"):] if "docs/" in name else path.parent / name
        if doc is None and path.parent == DOCS:
            doc = path
        items = tuple(int(n) for n in re.findall(r"\d+", m.group("items") or ""))
        refs.append(Reference(f"{rel}:{_line(text, m.start())}", doc, m.group("number"), items))
    return refs


def _all_references() -> list[Reference]:
    refs = []
    for path in _scanned_files():
        refs.extend(_section_references(path, path.read_text(encoding="utf-8", errors="replace")))
    return refs


def _problem(ref: Reference) -> str | None:
    if ref.doc is None:
        return f"{ref.where}: §{ref.number} follows no document (write docs/<NAME>.md §{ref.number})"
    if not ref.doc.is_file():
        return f"{ref.where}: §{ref.number} of {ref.doc}, which does not exist"
    sections = _sections(ref.doc)
    shown = ref.doc.relative_to(ROOT).as_posix() if ref.doc.is_relative_to(ROOT) else str(ref.doc)
    if ref.number not in sections:
        return f"{ref.where}: {shown} has no heading numbered {ref.number} (it has {sorted(sections)})"
    listed = {int(n) for n in ITEM.findall(sections[ref.number])}
    missing = [n for n in ref.items if n not in listed]
    if missing:
        return f"{ref.where}: {shown} §{ref.number} has no numbered item {missing} (it has {sorted(listed)})"
    return None


def test_the_reference_scan_finds_the_references_it_is_meant_to_check():
    """The scan itself: a reference in a known place is found and attributed (guards against a scan
    that finds nothing and so passes)."""
    refs = _all_references()
    assert len(refs) >= 80
    mine = [r for r in refs if r.where.startswith("coronanet_tf/model.py:")]
    assert mine and all(r.doc == DOCS / "PAPERS.md" and r.number == "3.1" for r in mine)
    assert any(r.items == (5, 7) for r in refs if r.where.startswith("coronet_tf/published.py:"))


def test_every_section_reference_names_a_heading_in_the_repository():
    problems = [p for p in map(_problem, _all_references()) if p]
    assert not problems, "section references that do not resolve:\n  " + "\n  ".join(problems)


def test_the_checker_rejects_what_does_not_resolve(tmp_path):
    """A reference to a missing heading, a missing item, a bare § and a missing document all fail."""
    paper = DOCS / "PAPERS.md"
    assert _problem(Reference("x:1", paper, "3.1", ())) is None
    assert _problem(Reference("x:1", paper, "1.7", (5,))) is None
    assert "no heading numbered 9.9" in _problem(Reference("x:1", paper, "9.9", ()))
    assert "no numbered item [42]" in _problem(Reference("x:1", paper, "1.7", (42,)))
    assert "follows no document" in _problem(Reference("x:1", None, "1", ()))
    assert "does not exist" in _problem(Reference("x:1", tmp_path / "NOPE.md", "1", ()))
    module = ROOT / "cxr_core" / "example.py"
    found = _section_references(module, '"""See docs/PAPERS.md §3.5, §4 and §1.7 items 5, 7.\n\nAlone: §2."""')
    assert [(r.doc, r.number, r.items) for r in found] == [
        (paper, "3.5", ()), (paper, "4", ()), (paper, "1.7", (5, 7)), (None, "2", ())]


def test_every_docs_path_exists():
    missing = []
    for path in _scanned_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for m in DOCS_PATH.finditer(text):
            target = m.group(0)[m.group(0).index("docs/"):]
            if not (ROOT / target).exists():
                missing.append(f"{path.relative_to(ROOT).as_posix()}:{_line(text, m.start())}: {m.group(0)}")
    assert not missing, "docs/ paths that do not exist in the repository:\n  " + "\n  ".join(missing)


def test_project_documents_are_named_by_their_path_in_the_repository():
    """``PAPERS.md`` alone, ``spec/PAPERS.md`` or ``/work/shared/...`` point outside a clone; inside docs/
    a sibling may be named alone (a relative link)."""
    bad = []
    for path in _scanned_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        rel = path.relative_to(ROOT).as_posix()
        for m in OUTSIDE_PATHS.finditer(text):
            bad.append(f"{rel}:{_line(text, m.start())}: {m.group(0)} is outside the repository")
        if path.parent == DOCS:
            continue
        for m in re.finditer(r"(?P<prefix>[\w./-]*?)\b(?P<name>[A-Z][A-Z_]+\.md)", text):
            if m.group("name") in PROJECT_DOC_NAMES and not m.group("prefix").endswith("docs/"):
                bad.append(f"{rel}:{_line(text, m.start())}: {m.group(0)} (write docs/{m.group('name')})")
    assert not bad, "\n  ".join(["documents not named by their repository path:", *bad])


@pytest.mark.parametrize("doc", ["PAPERS.md", "DESIGN.md", "VERIFIED.md", "SOURCES.md"])
def test_the_cited_documents_are_in_the_repository_with_numbered_sections(doc):
    assert (DOCS / doc).is_file()
    assert "1" in _sections(DOCS / doc)

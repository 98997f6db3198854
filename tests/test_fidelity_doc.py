"""docs/FIDELITY.md names only tests that exist and config keys that exist in the family's resolved config."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cxr_core.config.experiment import config_to_dict, resolve_config
from cxr_core.config.notes import MISSING, lookup

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs/FIDELITY.md"
TEST_REF = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")
KEY_REF = re.compile(r"`((?:data|preprocess|augment|model|train|protocol|evaluation|published|extra)(?:\.\w+)*)`")
#: Headings of the doc's family sections -> the family whose presets hold the keys.
FAMILIES = {"CoroNet": "coronet", "CVR-Net": "cvrnet", "CORONA-Net": "coronanet"}
CHOICES = ("architecture", "reader", "resize", "scaling", "augmentation", "split", "steps", "optimizer",
           "schedule", "callbacks", "selection", "evaluation", "precision", "initialisation", "BatchNorm update")


def _sections() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    parts = re.split(r"^## ", text, flags=re.M)[1:]
    out = {}
    for part in parts:
        title = part.split("\n", 1)[0]
        family = next((f for name, f in FAMILIES.items() if title.startswith(name + " ")), None)
        if family:
            out[family] = part
    return out


def test_every_family_has_a_section_with_every_choice():
    sections = _sections()
    assert set(sections) == set(FAMILIES.values())
    for family, text in sections.items():
        rows = [line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| ")]
        missing = [c for c in CHOICES if not any(r == c or r.startswith(c + " ") or r.endswith(" " + c)
                                                  or c in r.split(" / ") for r in rows)]
        assert not missing, f"{family}: no row for {missing}"


def test_every_named_test_exists():
    refs = TEST_REF.findall(DOC.read_text(encoding="utf-8"))
    assert len(refs) > 40
    missing = []
    for path, name in sorted(set(refs)):
        file = REPO / path
        if not file.is_file() or not re.search(rf"^def {name}\(", file.read_text(encoding="utf-8"), flags=re.M):
            missing.append(f"{path}::{name}")
    assert not missing, f"docs/FIDELITY.md names tests that do not exist: {missing}"


@pytest.mark.parametrize("family", sorted(FAMILIES.values()))
def test_every_named_config_key_exists(family):
    text = _sections()[family]
    resolved = [config_to_dict(resolve_config({"preset": f"{family}/{p}"})) for p in ("paper", "authors_code")]
    keys = sorted(set(KEY_REF.findall(text)))
    assert keys
    unknown = [k for k in keys if all(lookup(r, k) is MISSING for r in resolved)]
    assert not unknown, f"docs/FIDELITY.md ({family}) names config keys its presets do not have: {unknown}"

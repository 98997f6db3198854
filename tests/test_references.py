"""The tests' reference libraries: a missing one skips locally and fails in CI; none is optional there."""

from __future__ import annotations

import sys

import pytest

from tests import references
from tests.references import REFERENCE_LIBRARIES, in_ci, require


def test_the_reference_libraries_are_the_ones_the_tests_compare_against():
    assert set(REFERENCE_LIBRARIES) == {"tf_keras", "keras_applications", "keras_preprocessing", "torch",
                                        "nbformat", "nbclient", "ipykernel", "mlflow"}


@pytest.mark.parametrize("value, expected", [("true", True), ("1", True), ("yes", True), ("", False),
                                             ("0", False), ("false", False)])
def test_ci_is_read_from_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("CI", value)
    assert in_ci() is expected


def test_a_missing_reference_skips_locally_and_fails_in_ci(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="reference library torch is not installed"):
        require("torch")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="a missing reference is an error, not a skip"):
        require("torch")


def test_a_missing_reference_or_data_stops_a_ci_session(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "nbclient", None)
    monkeypatch.setattr(references, "SHARED_DATA", tmp_path / "nowhere")
    missing = references.missing_references()
    assert any(m.startswith("reference library nbclient cannot be imported") for m in missing)
    assert any("real test images not found" in m for m in missing)


def test_only_reference_libraries_may_be_required():
    """The project's own modules and its required dependencies are imported plainly, never skipped."""
    for name in ("keras", "h5py", "cxr_core.config.experiment", "coronanet_tf.torch_reference"):
        with pytest.raises(ValueError, match="not a reference library"):
            require(name)
    assert require("keras_applications.resnet50").__name__ == "keras_applications.resnet50"


def test_no_test_uses_importorskip_on_the_project_or_its_dependencies():
    tests = references.REPO_ROOT / "tests"
    offenders = [f"{p.relative_to(tests)}:{i}" for p in sorted(tests.rglob("*.py")) if p.name != "test_references.py"
                 for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if "importorskip(" in line and not line.lstrip().startswith("#")]
    assert not offenders, f"use tests.references.require (reference libraries) or a plain import: {offenders}"

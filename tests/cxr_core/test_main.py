"""``python -m cxr_core`` is the ``covid-cxr`` command (run in-process, so it belongs to the fast tier)."""

from __future__ import annotations

import runpy
import sys

import pytest


def test_python_m_cxr_core_runs_the_cli(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["covid-cxr", "--help"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("cxr_core", run_name="__main__", alter_sys=True)
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: covid-cxr") and " cv " in out and "summary" in out

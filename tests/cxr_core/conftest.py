"""Fixtures shared by several test modules of ``tests/cxr_core``."""

from __future__ import annotations

import pytest

from tests.cxr_core.two_machines import TwoMachines, coronet_cv_args


@pytest.fixture(scope="session")
def coronet_two_machines(cxr4_mini, tmp_path_factory) -> TwoMachines:
    """CoroNet's 4-fold smoke run as two machines through ``covid-cxr cv`` and merged (tests/cxr_core/two_machines.py)."""
    from cxr_core.cli.main import build_parser, main
    from cxr_core.cli.options import experiment
    from tests.log_capture import captured_logs

    root = tmp_path_factory.mktemp("two-machines")
    a, b, merged = root / "machine_a", root / "machine_b", root / "merged"
    with captured_logs() as logs:
        assert main(coronet_cv_args(cxr4_mini, a, "0,1")) == 0
        assert main(coronet_cv_args(cxr4_mini, b, "2,3")) == 0
    assert main(["report", str(a), str(b), "--out", str(merged)]) == 0
    # the config exactly as `covid-cxr cv` resolved it from those options (cxr_core.cli.main.cmd_cv)
    config = experiment(build_parser().parse_args(coronet_cv_args(cxr4_mini, a, "0,1"))).config
    return TwoMachines(config, a, b, merged, logs)

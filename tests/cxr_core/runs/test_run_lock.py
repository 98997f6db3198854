"""A run directory's folds are locked while a process works in them (issue 17, part 4): a second process
refuses naming pid and host, a stale lock of a dead process is taken over with a note."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from cxr_core.config.experiment import resolve_config
from cxr_core.protocol.run import run_protocol
from cxr_core.runs.lock import RunLockedError, lock_path, run_lock
from tests.log_capture import captured_logs


def _cfg(tmp_path: Path):
    return resolve_config({"preset": "coronet/authors_code", "data": {"source": str(tmp_path / "no_images")}})


def _lock(run_dir: Path, fold: int, pid: int, host: str) -> Path:
    path = lock_path(run_dir, fold)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": pid, "host": host, "folds": [fold], "started": "2026-12-06T00:00:00Z"}))
    return path


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_second_process_on_a_locked_fold_refuses_naming_pid_and_host(tmp_path):
    run_dir = tmp_path / "run"
    host = socket.gethostname()
    _lock(run_dir, 0, os.getppid(), host)  # a live process (pytest's parent) holds fold 0
    with pytest.raises(RunLockedError) as err:  # before any image is read: the data folder does not exist
        run_protocol(_cfg(tmp_path), run_dir, folds=[0])
    assert f"fold 0 is being run by pid {os.getppid()} on host {host}" in str(err.value)
    assert lock_path(run_dir, 0).exists()  # the other process's lock is left alone


def test_a_lock_of_another_host_is_never_taken_over(tmp_path):
    path = _lock(tmp_path, 2, _dead_pid(), "elsewhere")
    with pytest.raises(RunLockedError, match=rf"host elsewhere .*remove {path} once that process is gone"):
        with run_lock(tmp_path, [1, 2]):
            pass
    assert not lock_path(tmp_path, 1).exists()  # the lock of fold 1 was given back


def test_a_stale_lock_of_a_dead_process_is_taken_over_with_a_note(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    dead = _dead_pid()
    _lock(run_dir, 0, dead, socket.gethostname())
    with captured_logs(level=30) as lines, pytest.raises(Exception) as err:
        run_protocol(_cfg(tmp_path), run_dir, folds=[0])
    assert not isinstance(err.value, RunLockedError)  # the run went on to read its (missing) data
    assert any(f"fold 0 was locked by pid {dead}" in x and "lock taken over" in x for x in lines)
    assert not lock_path(run_dir, 0).exists()  # released when the process stopped


def test_the_lock_holds_this_process_while_it_works_and_folds_stay_independent(tmp_path):
    with run_lock(tmp_path, [0, 1]):
        held = json.loads(lock_path(tmp_path, 0).read_text())
        assert (held["pid"], held["host"], held["folds"]) == (os.getpid(), socket.gethostname(), [0, 1])
        with run_lock(tmp_path, [2]):  # another --folds process in the same directory
            assert lock_path(tmp_path, 2).exists()
    assert not (tmp_path / "locks").exists()

"""cxr_core.errors: one base class for bad input; the CLI explains it in one line and lets bugs show."""

from __future__ import annotations

import pytest

from cxr_core.cli import main as cli
from cxr_core.config.schema import ConfigError
from cxr_core.data.build.assemble import BuildError
from cxr_core.data.build.layout import SourceError
from cxr_core.data.decode.dicom import DicomError
from cxr_core.data.tables.sample_table import SampleError
from cxr_core.errors import CxrError, CxrLookupError
from cxr_core.inference.export import ExportMismatchError
from cxr_core.protocol.splits import SplitError
from cxr_core.runs.directory import RunDirectoryError
from cxr_core.weights.files import MissingWeightError, WeightFileError


@pytest.mark.parametrize("cls", [ConfigError, BuildError, SourceError, DicomError, SampleError, ExportMismatchError,
                                 SplitError, RunDirectoryError, WeightFileError, MissingWeightError,
                                 CxrLookupError])
def test_project_errors_derive_from_cxr_error(cls):
    assert issubclass(cls, CxrError) and issubclass(cls, ValueError)


def test_lookup_error_is_a_key_error_with_a_plain_message():
    from cxr_core.family import get_family

    with pytest.raises(KeyError) as info:
        get_family("no-such-family")
    assert isinstance(info.value, CxrError) and str(info.value).startswith("unknown model family 'no-such-family'")


def test_cli_explains_bad_input_in_one_line(tmp_path, capsys, cxr4_mini):
    image = sorted((cxr4_mini / "covid").iterdir())[0]
    assert cli.main(["predict", "--model", "coronet", str(image)]) == 2  # a CxrError from inference.model
    err = capsys.readouterr().err
    assert err.strip() == "covid-cxr predict: error: --weights is required without --run (a .weights.h5 file, or " \
                          "the authors' released file)"
    assert cli.main(["report", str(tmp_path / "absent"), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and str(tmp_path / "absent") in err


@pytest.mark.parametrize("bug", [ValueError("deep"), KeyError("deep"), TypeError("deep")])
def test_cli_lets_programming_errors_show_their_traceback(monkeypatch, tmp_path, bug):
    def broken(*args, **kwargs):
        raise bug

    monkeypatch.setattr("cxr_core.runs.directory.summarize_runs", broken)
    with pytest.raises(type(bug)):
        cli.main(["report", str(tmp_path), "--out", str(tmp_path / "r")])


@pytest.mark.parametrize("error", [CxrError("bad value"), PermissionError(13, "Permission denied", "/x/y")])
def test_cli_one_line_for_cxr_and_os_errors(monkeypatch, tmp_path, capsys, error):
    def refusing(*args, **kwargs):
        raise error

    monkeypatch.setattr("cxr_core.runs.directory.summarize_runs", refusing)
    assert cli.main(["report", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err == f"covid-cxr report: error: {error}\n"

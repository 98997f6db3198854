"""The project's error base class: what the command line explains in one line.

Every error the project raises about its *input* (a config value, a data file, a weight file, a run
directory, a command-line option) is a :class:`CxrError` or one of its subclasses:

====================================================  ==============================================
class                                                 raised for
====================================================  ==============================================
:class:`cxr_core.config.schema.ConfigError`           an experiment config value (names file and key)
:class:`cxr_core.data.tables.sample_table.SampleError` a dataset file or row
:class:`cxr_core.data.decode.dicom.DicomError`        a DICOM file that cannot become an image
:class:`cxr_core.data.build.layout.SourceError`       a public source's folder or metadata row
:class:`cxr_core.data.build.assemble.BuildError`      a ``data build`` recipe that cannot be built
:class:`cxr_core.protocol.splits.SplitError`          a split that cannot be made / split file
:class:`cxr_core.runs.directory.RunDirectoryError`    a run directory of another experiment or data
:class:`cxr_core.weights.files.WeightFileError`       a weight file that does not fit the model
:class:`cxr_core.inference.export.ExportMismatchError` an export that predicts differently
:class:`CxrLookupError`                               an unknown name (family, task, published table)
:class:`CxrError` itself                              any other bad input (options, arguments)
====================================================  ==============================================

``covid-cxr`` prints these (and the OS errors of files it cannot open) as one line and exits 2; any
other exception (a plain ``ValueError`` or ``KeyError`` from deep code) is a bug and shows its
traceback. ``CxrError`` is a ``ValueError``, so code that caught ``ValueError`` still catches it.
"""

from __future__ import annotations

__all__ = ["EXPLAINED_OS_ERRORS", "CxrError", "CxrLookupError"]

#: The OS errors a user can fix from their message alone (a missing path, a folder where a file was
#: expected or the reverse, no permission, a file in the way); the command line explains them in one line.
EXPLAINED_OS_ERRORS = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError, FileExistsError)


class CxrError(ValueError):
    """Bad input to the project: the message names the file, key, option or layer, what was expected
    and what was found."""


class CxrLookupError(CxrError, KeyError):
    """An unknown name (model family, task, preset, published table); also a ``KeyError`` for callers
    that catch one. ``str()`` is the message itself (``KeyError`` would quote it)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""

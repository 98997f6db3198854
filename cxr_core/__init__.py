"""Shared machinery of covid-cxr-tf: data, metrics, training, protocols, reports and the CLI.

``cxr_core`` never imports a paper package; the CLI finds them through the ``covid_cxr.models``
entry-point group (see :mod:`cxr_core.family`).

Public Python API (:mod:`cxr_core.api`), imported on first use so that ``import cxr_core`` does not
import TensorFlow:

- :func:`load_classifier` (``name_or_run, weights=None, fold=None``) -> :class:`Classifier` with
  ``.model``, ``.class_names``, ``.preprocess(paths)`` and ``.predict(paths)`` (a DataFrame);
- :func:`run_experiment` (``config, data=..., run_dir=...``) -> :class:`ExperimentRun`.
"""

from cxr_core.version import __version__

__all__ = ["Classifier", "ExperimentRun", "load_classifier", "run_experiment", "__version__"]

_API = ("Classifier", "ExperimentRun", "load_classifier", "run_experiment")


def __getattr__(name: str):
    if name in _API:
        from cxr_core import api

        return getattr(api, name)
    raise AttributeError(f"module 'cxr_core' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_API])

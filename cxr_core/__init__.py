"""Shared machinery of covid-cxr-tf: data, metrics, training, protocols, reports and the CLI.

``cxr_core`` never imports a paper package; the CLI finds them through the ``covid_cxr.models``
entry-point group (see :mod:`cxr_core.registry`).
"""

__version__ = "0.1.0"

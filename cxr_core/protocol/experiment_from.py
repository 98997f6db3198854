"""An experiment to run, from what a user gives: the command line and the Python API build it here.

``covid-cxr cv`` / ``covid-cxr train`` (:mod:`cxr_core.cli.main`) and
:func:`cxr_core.api.run_experiment` both call :func:`experiment_from`, so a config, its overrides, the
smoke settings, ``train``'s switch to a holdout split and the run directory come out the same way from
either front end.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from cxr_core.config.experiment import ExperimentConfig, deep_merge, load_config, replace, resolve_config, smoke_overrides

__all__ = ["Experiment", "experiment_from", "input_overrides", "require_inputs"]


@dataclass(frozen=True)
class Experiment:
    """A resolved config and the run directory to create or resume."""

    config: ExperimentConfig
    run_dir: Path


def input_overrides(*, data=None, test_data=None, val_data=None, init_from=None) -> dict:
    """The config keys of the inputs (CLI ``--data``, ``--test-data``, ``--val-data``, ``--init-from``;
    API ``data=`` ...): ``data.source``, ``data.test_source``, ``data.validation_source`` with
    ``protocol.validation: validation_source``, ``model.init_from``. ``{}`` when none is given."""
    over: dict = {}
    if data is not None:
        over = deep_merge(over, {"data": {"source": os.fspath(data)}})
    if test_data is not None:
        over = deep_merge(over, {"data": {"test_source": os.fspath(test_data)}})
    if val_data is not None:
        over = deep_merge(over, {"data": {"validation_source": os.fspath(val_data)},
                                 "protocol": {"validation": "validation_source"}})
    if init_from is not None:
        over = deep_merge(over, {"model": {"init_from": os.fspath(init_from)}})
    return over


def experiment_from(config: Any, overrides: Mapping | None = None, *, data=None, test_data=None, val_data=None,
                    init_from=None, smoke: bool = False, holdout: float | None = None, run_dir=None,
                    out="runs", overrides_origin: str = "--set", config_origin: str = "the config mapping") -> Experiment:
    """The experiment's config and run directory.

    Args:
        config: an experiment YAML path, a mapping in the YAML's shape, or an
            :class:`~cxr_core.config.experiment.ExperimentConfig`.
        overrides: config values on top (``--set`` and the option flags), merged with
            :func:`input_overrides` of ``data``, ``test_data``, ``val_data``, ``init_from``.
        smoke: the smoke settings (:func:`~cxr_core.config.experiment.smoke_overrides`: tiny input, one
            epoch of two steps); explicit overrides win over them.
        holdout: ``covid-cxr train``: a k-fold protocol becomes one holdout split with this held-out
            fraction (other protocols are kept); ``None`` keeps the protocol.
        run_dir: the run directory; default ``out/<name>/<YYYYmmdd-HHMMSS>``.
        overrides_origin, config_origin: how a bad override / a bad value of a ``config`` mapping is named
            in the error (``--set``, ``run_experiment(...)``).

    Raises:
        cxr_core.config.schema.ConfigError: a value that does not fit, naming where it came from and the key.
    """
    over = deep_merge(dict(overrides or {}), input_overrides(data=data, test_data=test_data, val_data=val_data,
                                                              init_from=init_from))
    if isinstance(config, ExperimentConfig):
        cfg = replace(config, over, origin=overrides_origin) if over else config
    elif isinstance(config, Mapping):
        cfg = resolve_config(config, origin=config_origin, overrides=over, overrides_origin=overrides_origin)
    else:
        cfg = load_config(config, overrides=over, overrides_origin=overrides_origin)
    if smoke:
        cfg = replace(cfg, smoke_overrides(cfg))
        if over:
            cfg = replace(cfg, over, origin=overrides_origin)  # explicit values win over the smoke settings
    if holdout is not None and cfg.protocol.kind == "kfold":
        cfg = replace(cfg, {"protocol": {"kind": "holdout", "holdout_fraction": holdout}})
    target = Path(run_dir) if run_dir is not None else Path(out) / cfg.name / time.strftime("%Y%m%d-%H%M%S")
    return Experiment(cfg, target)


#: The config keys of an experiment's inputs and the options that set them (CLI words first).
INPUT_KEYS = (("source", "--data"), ("test_source", "--test-data"), ("validation_source", "--val-data"))


def require_inputs(cfg: ExperimentConfig) -> None:
    """Stop before any work (and before TensorFlow is imported) when a data path the config names does not
    exist: ``data.source`` (``--data``), ``data.test_source`` (``--test-data``), ``data.validation_source``
    (``--val-data``).

    Raises:
        cxr_core.errors.CxrError: naming the option, the config key and the path.
    """
    from cxr_core.errors import CxrError

    for key, option in INPUT_KEYS:
        value = getattr(cfg.data, key, None)
        if value and not Path(value).exists():
            raise CxrError(f"{option} {value}: not found (data.{key}); give an existing folder, CSV manifest or "
                           "split file")

"""ImageNet backbone weights: make sure they are there before a run starts, or say in one line what is missing.

Keras downloads a ``keras.applications`` backbone's ImageNet weights with ``keras.utils.get_file``
into its cache, ``$KERAS_HOME/models`` (default ``~/.keras/models``; a read-only home falls back to
``/tmp/.keras/models``), and reuses the cached file afterwards. Without a network and without the
file, the first model build used to fail deep inside training, after the run directory had been
made, in a 100-line ``URL fetch failure`` traceback.

:func:`require_pretrained_weights` (called by :func:`cxr_core.protocol.run.run_protocol` before the run
directory is created) builds the experiment's model once with ``model.backbone_weights`` when that
is ``imagenet``, inside :func:`guarded_downloads`: a file already in the cache is used as is (no
network), a missing one is downloaded there, and a download that fails becomes one
:class:`PretrainedWeightsUnavailable` line naming the file, the URL and the path to put it at.
Which files a family needs is whatever its builder asks ``get_file`` for, so the core names no
model; families that never download (a local file, or an error of their own saying where to put
one) pass through unchanged.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from cxr_core.config.experiment import ExperimentConfig

log = logging.getLogger(__name__)


class PretrainedWeightsUnavailable(FileNotFoundError):
    """A pretrained weights file is not in the Keras cache and could not be downloaded."""

    def __init__(self, fname: str, origin: str | None, target: Path, reason: str):
        self.fname, self.origin, self.target, self.reason = fname, origin, Path(target), reason
        super().__init__(
            f"pretrained weights {fname} are not in the Keras cache and could not be downloaded"
            f"{f' from {origin}' if origin else ''} ({reason}); download the file on a machine with a "
            f"network and put it at {target} (the Keras cache, $KERAS_HOME/models, default ~/.keras/models), "
            "or start from no pretrained weights with --set model.backbone_weights=null"
        )


def keras_cache_dir(cache_subdir: str = "models", cache_dir: str | os.PathLike | None = None) -> Path:
    """The folder ``keras.utils.get_file`` keeps ``cache_subdir`` files in (``$KERAS_HOME/models``
    by default; ``/tmp/.keras/...`` when the Keras home is not writable, as Keras does)."""
    from keras.src.backend import config

    base = os.path.expanduser(str(cache_dir) if cache_dir is not None else config.keras_home())
    if not os.access(base, os.W_OK):
        base = os.path.join("/tmp", ".keras")
    return Path(base) / cache_subdir


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


@contextlib.contextmanager
def guarded_downloads():
    """Inside the block, a ``keras.utils.get_file`` call that fails (no network, a bad hash) raises
    :class:`PretrainedWeightsUnavailable` naming the file, its URL and the cache path to put it at."""
    import keras
    from keras.src.utils import file_utils

    original = file_utils.get_file

    def get_file(fname=None, origin=None, *args, **kwargs):
        try:
            return original(fname, origin, *args, **kwargs)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # noqa: BLE001 - Keras raises a bare Exception for fetch failures
            name = fname or (origin.rsplit("/", 1)[-1] if origin else "?")
            folder = keras_cache_dir(kwargs.get("cache_subdir", "models"), kwargs.get("cache_dir"))
            raise PretrainedWeightsUnavailable(name, origin, folder / name, _reason(exc)) from exc

    public = keras.utils.get_file
    file_utils.get_file = get_file
    keras.utils.get_file = get_file
    try:
        yield
    finally:
        file_utils.get_file = original
        keras.utils.get_file = public


def require_pretrained_weights(cfg: ExperimentConfig, num_classes: int | None = None) -> None:
    """With ``model.backbone_weights: imagenet``, build the model once under :func:`guarded_downloads`
    so that every pretrained file it reads is in the Keras cache (downloaded now if needed).

    Raises:
        PretrainedWeightsUnavailable: a file is missing and could not be downloaded (one line).
        FileNotFoundError: the family's own error for a file it does not download.
    """
    if str(cfg.model.backbone_weights) != "imagenet":
        return
    from cxr_core.family import get_family

    family = get_family(cfg.model.family)
    n = num_classes or cfg.model.num_classes or len(cfg.data.class_names or ()) or 2
    with guarded_downloads():
        family.model.build(num_classes=n, input_shape=(*tuple(cfg.preprocess.image_size), 3),
                     backbone_weights="imagenet", **dict(cfg.model.options))
    log.debug("%s: pretrained backbone weights available", cfg.name)

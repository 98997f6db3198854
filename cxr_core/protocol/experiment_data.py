"""An experiment's data as its config says: the sample table, and the pipeline spec that reads it.

The step ``sources -> sample table`` of the flow in docs/DESIGN.md §1, for one experiment:
:func:`load_samples` reads ``data.source`` (or ``data.test_source``) with the readers of
:mod:`cxr_core.data.tables.readers`, verifies the files, relabels them (``data.label_map``) and keeps the
experiment's classes; :func:`prepare_samples` undersamples (``data.undersample``);
:func:`manifest_hash` fingerprints the result for the run's provenance. :func:`pipeline_spec` maps
the ``preprocess`` and ``augment`` sections onto :class:`cxr_core.data.pipeline.PipelineSpec`.
"""

from __future__ import annotations

import hashlib
import logging

from cxr_core.config.experiment import ExperimentConfig
from cxr_core.errors import CxrError

log = logging.getLogger(__name__)

#: How a config-driven run leaves bad files out, in config and command-line terms.
ON_BAD_FILE_HINT = "set data.on_bad_file: skip (command line: --set data.on_bad_file=skip) to leave them out, listed in skipped.csv"


def load_samples(cfg: ExperimentConfig, source: str | None = None, *, test: bool = False,
                 validation: bool = False):
    """The experiment's sample table: read, verified, relabelled, restricted to its classes.

    Args:
        cfg: the experiment config (its ``data`` section).
        source: a data source replacing ``data.source`` (``data.test_source`` with ``test``).
        test: read the fixed test split (``data.test_source``, ``data.test_image_dir``).
        validation: read the fixed validation split (``data.validation_source``, ``data.image_dir``).

    Returns:
        a :class:`cxr_core.data.tables.sample_table.SampleTable`; files left out (``data.on_bad_file: skip``,
        classes outside the label map) are in its ``skipped`` frame with the reason.

    Raises:
        ValueError: no data source is set (on the CLI: ``--data``).

    Undersampling (``data.undersample``) is applied by :func:`prepare_samples`, not here, so that a
    fixed test split is never undersampled.
    """
    from cxr_core.data.decode.images import verify_images
    from cxr_core.data.tables.sample_table import require_every_class
    from cxr_core.data.tables.readers import read_samples
    from cxr_core.data.tables.sample_table import remap_labels

    data = cfg.data
    src = source or (data.test_source if test else data.validation_source if validation else data.source)
    if not src:
        key, flag = ("data.test_source", "--test-data") if test else \
            ("data.validation_source", "--val-data") if validation else ("data.source", "--data")
        raise CxrError(f"{key} is not set: give {flag} DIR (or {key} in the experiment YAML)")
    image_dir = data.test_image_dir if test else data.image_dir
    read_classes = None if data.label_map else data.class_names
    table = read_samples(
        src,
        format=data.format,
        class_names=read_classes,
        image_dir=image_dir,
        drop_duplicates=data.drop_duplicates,
        on_error=data.on_bad_file,
        **({"label_column": data.label_column} if data.label_column else {}),
    )
    if data.label_map:
        targets = data.class_names or tuple(dict.fromkeys(data.label_map.values()))
        table = remap_labels(table, dict(data.label_map), tuple(targets))
    before_checks = table.class_counts()
    if data.verify_images:
        table = verify_images(table, on_error=data.on_bad_file, skip_hint=ON_BAD_FILE_HINT, png16=cfg.preprocess.png16,
                              dicom=cfg.preprocess.dicom)
    what = ("test data (data.test_source, --test-data)" if test else "validation data (data.validation_source, "
            "--val-data)" if validation else "training data (data.source, --data)")
    require_every_class(table, f"{what} {src}", before_checks)
    return table


def prepare_samples(cfg: ExperimentConfig, table, *, smoke: bool = False):
    """Apply ``data.undersample`` (per-class counts such as CoroNet's Table I [S4], or ``minority``), seeded
    with ``protocol.seed``.

    In smoke mode, per-class counts above what a small dataset holds are capped (and logged), so
    that a full experiment YAML runs on ../shared/data's few images.
    """
    from cxr_core.protocol.splits import undersample

    if cfg.data.undersample is None:
        return table
    spec = cfg.data.undersample
    if isinstance(spec, dict):
        spec = {str(k): int(v) for k, v in spec.items()}
        if smoke:
            available = table.class_counts()
            capped = {k: min(v, int(available.get(k, 0))) for k, v in spec.items()}
            if capped != spec:
                log.info("smoke: undersampling counts %s capped at the images available: %s", spec, capped)
            spec = capped
    return undersample(table, spec, seed=cfg.protocol.seed)


def manifest_hash(table) -> str:
    """SHA-256 (64 hex characters) over the sorted (sample_id, label) pairs: identifies the data a run used."""
    digest = hashlib.sha256()
    for sid, label in sorted(zip(table.frame["sample_id"], table.frame["label"])):
        digest.update(f"{sid}\t{label}\n".encode())
    return digest.hexdigest()


def pipeline_spec(cfg: ExperimentConfig):
    """The :class:`~cxr_core.data.pipeline.PipelineSpec` of an experiment (``preprocess`` + ``augment``)."""
    from cxr_core.data.augment.keras2 import Keras2AugmentSpec
    from cxr_core.data.pipeline import PipelineSpec

    aug = cfg.augment
    augment = None
    if aug.enabled:
        zoom = tuple(aug.zoom_range) if isinstance(aug.zoom_range, (list, tuple)) else float(aug.zoom_range)
        augment = Keras2AugmentSpec(
            rotation_range=aug.rotation_range,
            width_shift_range=aug.width_shift_range,
            height_shift_range=aug.height_shift_range,
            shear_range=aug.shear_range,
            zoom_range=zoom,
            channel_shift_range=aug.channel_shift_range,
            horizontal_flip=aug.horizontal_flip,
            vertical_flip=aug.vertical_flip,
            fill_mode=aug.fill_mode,
            cval=aug.cval,
        )
    pre = cfg.preprocess
    return PipelineSpec(
        image_size=tuple(pre.image_size),
        resize_method=pre.resize_method,
        scaling=pre.scaling,
        augment=augment,
        cache=pre.cache,
        pre_resize=pre.pre_resize,
        png16=pre.png16,
        dicom=pre.dicom,
        jpeg_resave_quality=pre.jpeg_resave_quality,
        augment_placement=aug.placement,
    )

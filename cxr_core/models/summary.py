"""``covid-cxr summary``: a family's model as a preset builds it, its layer table and its parameter
counts beside the published ones.

:func:`model_summary` resolves ``<family>/<preset>`` (plus ``--set`` overrides), builds the model
without any weight file (nothing is downloaded), and returns Keras' layer table
(``model.summary``), the model's total / trainable / non-trainable counts
(:func:`cxr_core.config.param_counts.model_param_counts`) and every published count the config records:
``extra.expected_params`` and any ``expected_params`` inside the family's own ``extra.<family>``
section (e.g. one per model variant). :func:`counts_table` lays them out side by side.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

from cxr_core.config.param_counts import ParamCounts, as_param_counts, model_param_counts
from cxr_core.errors import CxrError

_NAMES = ("total", "trainable", "non_trainable")
LINE_LENGTH = 120
"""Width of the layer table, characters."""


@dataclass(frozen=True)
class ModelSummary:
    """``layers``: the Keras layer table (text); ``counts``: the model's counts; ``published``:
    ``{config key: ParamCounts}`` of every published count the config records; ``cfg``: the
    resolved config; ``num_classes`` and ``input_shape`` as built."""

    layers: str
    counts: ParamCounts
    published: dict[str, ParamCounts]
    cfg: Any
    num_classes: int
    input_shape: tuple[int, int, int]


def published_counts(extra: Mapping, prefix: str = "extra") -> dict[str, ParamCounts]:
    """Every ``expected_params`` under ``extra`` (nested family sections included), by dotted key."""
    found: dict[str, ParamCounts] = {}
    for key, value in (extra or {}).items():
        dotted = f"{prefix}.{key}"
        if key == "expected_params" and value is not None:
            if isinstance(value, Mapping) and not set(value) <= set(_NAMES):
                for variant, spec in value.items():
                    if spec is not None:
                        found[f"{dotted}.{variant}"] = as_param_counts(spec)
            else:
                found[dotted] = as_param_counts(value)
        elif isinstance(value, Mapping):
            found.update(published_counts(value, dotted))
    return found


def _num_classes(cfg) -> int:
    if cfg.model.num_classes:
        return int(cfg.model.num_classes)
    if cfg.data.class_names:
        return len(cfg.data.class_names)
    raise CxrError(f"preset {cfg.preset}: no model.num_classes and no data.class_names; "
                     "add --set model.num_classes=N")


def model_summary(family: str, preset: str = "authors_code", overrides: Mapping | None = None) -> ModelSummary:
    """Build ``family``'s model as ``preset`` (with ``overrides``, nested like ``--set``) describes
    it, without weights, and summarise it (see the module docstring).

    Raises:
        KeyError: unknown family or preset. cxr_core.config.schema.ConfigError: a bad override.
    """
    from cxr_core.config.experiment import resolve_config
    from cxr_core.models.build import model_builder

    cfg = resolve_config({"preset": f"{family}/{preset}"}, origin="--model/--preset", overrides=overrides)
    n = _num_classes(cfg)
    model = model_builder(cfg, n)(bare=True)
    lines: list[str] = []
    # Keras draws the table with rich, whose console is as wide as $COLUMNS (80 without a terminal):
    # a wider table would be cut on the right, so the width is set for the call.
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(LINE_LENGTH + 4)
    try:
        model.summary(print_fn=lambda text, **_: lines.append(text), line_length=LINE_LENGTH)
    finally:
        if saved is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = saved
    extra = cfg.extra if isinstance(cfg.extra, Mapping) else {}
    return ModelSummary("\n".join(lines), model_param_counts(model), published_counts(dict(extra)), cfg, n,
                        (*tuple(cfg.preprocess.image_size), 3))


def built_variant(key: str, published_keys, options: Mapping) -> bool:
    """Whether the published count ``key`` (``extra...expected_params.<variant>``) describes the model built
    with ``model.options`` ``options``: a variant named like a boolean model option (``with_decoder``) when
    that option is true; a variant named otherwise (``classification``) when no variant's option is true.
    Counts that are not per variant always apply."""
    *head, variant = key.split(".")
    if "expected_params" not in head[-1:]:
        return True
    siblings = [k.rsplit(".", 1)[1] for k in published_keys if k.rsplit(".", 1)[0] == ".".join(head)]
    switched = [v for v in siblings if isinstance(options.get(v), bool)]
    if variant in switched:
        return bool(options[variant])
    return not any(options[v] for v in switched)


def counts_table(summary: ModelSummary) -> str:
    """Ours beside each published count (same / DIFFERS), as aligned text lines; a count published for
    another variant of the model than the one built (:func:`built_variant`) is shown, not compared."""
    head = f"{'parameters':<15}{'ours':>14}"
    for key in summary.published:
        head += f"  {'published ' + key:>44}"
    rows = [head]
    options = dict(summary.cfg.model.options or {})
    applies = {key: built_variant(key, summary.published, options) for key in summary.published}
    for name in _NAMES:
        ours = getattr(summary.counts, name)
        row = f"{name.replace('_', '-'):<15}{ours:>14,}"
        for key, counts in summary.published.items():
            value = getattr(counts, name)
            if value is None:
                cell = "not published"
            elif not applies[key]:
                cell = f"{value:,} (another variant)"
            else:
                cell = f"{value:,} ({'same' if value == ours else 'DIFFERS'})"
            row += f"  {cell:>44}"
        rows.append(row)
    if not summary.published:
        rows.append("(the preset records no published parameter counts)")
    h, w, _ = summary.input_shape
    rows.append(f"input {h}x{w}x3, {summary.num_classes} classes, preset {summary.cfg.preset}")
    return "\n".join(rows)

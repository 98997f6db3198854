"""CVR-Net's own config section ``extra.cvrnet`` (the family's ``extra_schema``).

``task``: the paper's task number, 1-5 (:mod:`cvrnet_tf.tasks`; e.g. ``1`` or ``"task1"``). The
report's ``cvrnet/abstract`` layout reads it to pick the task's published row [S2]; presets set it.
"""

from __future__ import annotations

from dataclasses import dataclass

from cxr_core.config.schema import PositiveInt


@dataclass(frozen=True)
class CvrNetSettings:
    """``extra.cvrnet`` of an experiment config."""

    task: PositiveInt | str | None = None

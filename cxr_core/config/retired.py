"""Config keys that earlier versions wrote into a run's ``config.yaml`` and the schema no longer has.

A run directory made before such a key left the schema is still read (``predict``, ``evaluate``,
``explain``, ``export``, ``--run``) and resumed: :func:`without_retired_keys` drops the key before the
run's config is checked or compared, and :data:`RETIRED_KEYS` says where the setting went.
"""

from __future__ import annotations

from typing import Mapping

#: ``(section, key)`` -> where the setting went.
RETIRED_KEYS = {("train", "bn_momentum"): "the demo experiment's own demo.bn_momentum section"}


def without_retired_keys(raw: Mapping | None) -> dict:
    """``raw`` (a run's resolved config, nested) without the :data:`RETIRED_KEYS`; ``{}`` for None."""
    out = dict(raw or {})
    for (section, key) in RETIRED_KEYS:
        if isinstance(out.get(section), Mapping) and key in out[section]:
            out[section] = {k: v for k, v in out[section].items() if k != key}
    return out

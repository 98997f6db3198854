"""PyTorch's default initialisation of the layers [CR] adds on VGG16-BN, live against torch itself (CPU):
tests/coronanet_tf/golden/torch_init.npz, which test_torch_init_golden.py checks our initializers
against without PyTorch, must be what torch draws today."""

from __future__ import annotations

import numpy as np

from tests.references import require

torch = require("torch")

from tests.coronanet_tf.golden_tensors import INIT_GOLDEN, load_golden  # noqa: E402
from tests.coronanet_tf.make_golden import init_arrays  # noqa: E402


def test_golden_init_file_is_what_torch_draws_today():
    """If this fails, regenerate: ``python -m tests.coronanet_tf.make_golden``."""
    stored, now = load_golden(INIT_GOLDEN), init_arrays()
    assert list(stored["layers"]) == list(now["layers"]) and list(stored["columns"]) == list(now["columns"])
    np.testing.assert_array_equal(stored["stats"][:, :3], now["stats"][:, :3])  # fan-in and sizes
    np.testing.assert_allclose(stored["stats"][:, 3:], now["stats"][:, 3:], rtol=1e-6)

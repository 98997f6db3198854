"""Write tests/cxr_core/training/golden/batchnorm2d_update.npz with PyTorch (needs torch).

    python -m tests.cxr_core.training.make_golden

The file holds ``torch.nn.BatchNorm2d(momentum=0.1, eps=1e-3)``'s running mean and variance after one
training-mode pass over the convolution output of test_batchnorm.py's seeded data, so
``test_unbiased_matches_pytorch_batchnorm2d_update_golden`` checks our unbiased moving variance against
PyTorch without PyTorch. The live test (CI) checks that the file is still what torch computes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

GOLDEN = Path(__file__).resolve().parent / "golden" / "batchnorm2d_update.npz"


def torch_batchnorm2d_update() -> dict[str, np.ndarray]:
    import keras
    import torch

    from tests.cxr_core.training.test_batchnorm import C, _data

    x, _, kernel, _ = _data()
    conv_out = keras.ops.convert_to_numpy(keras.ops.conv(x, kernel, padding="same"))
    bn = torch.nn.BatchNorm2d(C, momentum=0.1, eps=1e-3)
    bn.train()
    bn(torch.from_numpy(conv_out).permute(0, 3, 1, 2))
    return {"running_mean": bn.running_mean.detach().numpy().copy(),
            "running_var": bn.running_var.detach().numpy().copy(),
            "torch_version": np.array(torch.__version__)}


def main() -> None:
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(GOLDEN, **torch_batchnorm2d_update())
    print(f"wrote {GOLDEN}")


if __name__ == "__main__":
    main()

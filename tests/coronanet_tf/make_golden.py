"""Write tests/coronanet_tf/golden/convert_vgg_ae.npz from the PyTorch reference (needs torch).

    python -m tests.coronanet_tf.make_golden

Run it again only when the reference (coronanet_tf.torch_reference) or the seeds change; the test
``test_golden_file_is_what_torch_computes_today`` (tests/coronanet_tf/test_convert.py, CI) says when the
file is stale. See tests/coronanet_tf/golden_tensors.py for what the file holds.
"""

from __future__ import annotations

import numpy as np

from tests.coronanet_tf.golden_tensors import (GOLDEN, INPUTS_SEED, WEIGHTS_SEED, reconstruction_sample,
                                               seeded_inputs, seeded_state_dict)


def golden_arrays() -> dict[str, np.ndarray]:
    """What the golden file holds, computed now with PyTorch."""
    import torch

    from coronanet_tf import torch_reference

    model = torch_reference.build_torch_reference(num_classes=3, with_decoder=True)
    template = model.state_dict()
    keys = list(template)
    shapes = [tuple(t.shape) for t in template.values()]
    state = seeded_state_dict(keys, shapes)
    model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in state.items()})
    model.eval()
    x = seeded_inputs()
    with torch.no_grad():
        logits, rec = model(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))
    rec = rec.numpy().transpose(0, 2, 3, 1)
    width = max(len(s) for s in map(str, shapes))
    return {
        "keys": np.array(keys),
        "shapes": np.array([str(list(s)).ljust(width) for s in shapes]),
        "weights_seed": np.array(WEIGHTS_SEED), "inputs_seed": np.array(INPUTS_SEED),
        "torch_version": np.array(torch.__version__),
        "logits": logits.numpy().astype(np.float32),
        **{k: np.ascontiguousarray(v, dtype=np.float32) for k, v in reconstruction_sample(rec).items()},
    }


def main() -> None:
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(GOLDEN, **golden_arrays())
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()

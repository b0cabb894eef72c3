"""Parity cases the runner must fail, each with a message naming the fault.

Writes tests/data/parity_bad/: an unknown module, a case missing a tensor its
module needs, and an expected tensor the module cannot produce.
Run: /usr/bin/python3 tools/make_bad_parity_cases.py
"""

import pathlib

import torch

import safetensors_io

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "parity_bad"


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    linear = torch.nn.Linear(3, 2)
    x = torch.randn(4, 3)
    meta = {"module": "linear", "in_features": "3", "out_features": "2", "bias": "true"}
    good = {**linear.state_dict(), "input": x, "grad_output": torch.ones(4, 2),
            "expected.output": linear(x).detach()}
    safetensors_io.save(OUT / "unknown_module.safetensors", good, {**meta, "module": "conv2d"})
    missing = {k: v for k, v in good.items() if k != "input"}
    safetensors_io.save(OUT / "missing_tensor.safetensors", missing, meta)
    safetensors_io.save(OUT / "unproducible.safetensors",
                        {**good, "expected.h_n": torch.zeros(1, 4, 2)}, meta)
    print(f"wrote 3 cases to {OUT}")


if __name__ == "__main__":
    main()

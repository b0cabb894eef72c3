"""Golden values for tensor creation, computed by PyTorch.

Writes tests/data/creation.safetensors: torch.linspace and torch.arange in
float32 and float64 for the ranges the sine demo and the tests use.

Run: /usr/bin/python3 tools/make_core_golden.py
"""

import math
import pathlib

import torch

import safetensors_io


def main():
    tensors = {}
    for dtype, name in ((torch.float32, "f32"), (torch.float64, "f64")):
        for k in range(60):  # every chunk of the sine demo
            tensors[f"linspace_{k}_{name}"] = torch.linspace(k * math.pi, (k + 1) * math.pi, 10,
                                                             dtype=dtype)
        tensors[f"linspace_odd_{name}"] = torch.linspace(-1.5, 2.25, 7, dtype=dtype)
        tensors[f"arange_{name}"] = torch.arange(0.5, 3.2, 0.3, dtype=dtype)
    out = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "creation.safetensors"
    safetensors_io.save(out, tensors, {"torch": torch.__version__})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

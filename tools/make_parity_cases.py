"""Writes the PyTorch parity cases into tests/parity/<family>/.

Each module in tools/parity_cases/ has a cases() generator yielding
(file stem, {name: tensor}, {metadata key: value}); see ../shared/PARITY.md
for the file format. Run: /usr/bin/python3 tools/make_parity_cases.py [family ...]
"""

import importlib
import pathlib
import sys

import torch

import safetensors_io

ROOT = pathlib.Path(__file__).resolve().parent.parent
FAMILIES = ["linear", "recurrent", "loss", "optim", "sequential"]


def main(families):
    total = 0
    for family in families:
        module = importlib.import_module(f"parity_cases.{family}")
        out = ROOT / "tests" / "parity" / family
        out.mkdir(parents=True, exist_ok=True)
        for old in out.glob("*.safetensors"):
            old.unlink()
        count = 0
        for stem, tensors, metadata in module.cases():
            metadata = {k: str(v).lower() if isinstance(v, bool) else str(v)
                        for k, v in metadata.items()}
            safetensors_io.save(out / f"{stem}.safetensors", tensors, metadata)
            count += 1
        print(f"{family}: {count} cases")
        total += count
    print(f"{total} cases, torch {torch.__version__}")


if __name__ == "__main__":
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    wanted = sys.argv[1:] or [f for f in FAMILIES
                              if (ROOT / "tools" / "parity_cases" / f"{f}.py").exists()]
    main(wanted)

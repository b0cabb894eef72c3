"""Runs weights that tapegrad saved through the same PyTorch module.

Usage:
  torch_roundtrip.py SAVED.safetensors KIND [option=value ...] --input IN --out OUT

SAVED holds a Module::save() of a tapegrad Linear, RNN, LSTM or GRU (KIND);
the options are the torch constructor's (input_size=3 bidirectional=true).
The weights are loaded with a strict load_state_dict, the module runs in
eval mode on the tensor `input` of IN, and OUT receives `output` (and `h_n`,
`c_n` for recurrent layers). Exit status 0 on success.
"""

import argparse
import sys

import torch

import safetensors_io


def parse_value(text):
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("saved")
    parser.add_argument("kind", choices=["Linear", "RNN", "LSTM", "GRU"])
    parser.add_argument("options", nargs="*", help="option=value")
    parser.add_argument("--input", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    options = {}
    for item in args.options:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"option '{item}' is not key=value")
        options[key] = parse_value(value)

    state, _ = safetensors_io.load(args.saved)
    module = getattr(torch.nn, args.kind)(**options).eval()
    module.load_state_dict(state, strict=True)
    inputs, _ = safetensors_io.load(args.input)
    with torch.no_grad():
        y = module(inputs["input"])
    if args.kind == "Linear":
        result = {"output": y}
    elif args.kind == "LSTM":
        result = {"output": y[0], "h_n": y[1][0], "c_n": y[1][1]}
    else:
        result = {"output": y[0], "h_n": y[1]}
    safetensors_io.save(args.out, result, {"torch": torch.__version__})


if __name__ == "__main__":
    main(sys.argv[1:])

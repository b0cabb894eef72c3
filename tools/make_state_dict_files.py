"""PyTorch-made weights for tests/layers/state_dict_test.cpp.

Writes tests/data/state_dict/{linear,rnn_2layer_bidir,lstm_proj,gru}.safetensors:
a torch module's state_dict under its own names, plus `input` and the
module's outputs in eval mode as `expected.output` (and `expected.h_n`,
`expected.c_n` for recurrent layers). The metadata holds the module kind
("Linear", "RNN", "LSTM", "GRU") and its constructor options, as strings.

Run: /usr/bin/python3 tools/make_state_dict_files.py
"""

import pathlib

import torch

import safetensors_io

CASES = {
    "linear": ("Linear", dict(in_features=4, out_features=3), (2, 5, 4)),
    "rnn_2layer_bidir": ("RNN", dict(input_size=3, hidden_size=4, num_layers=2,
                                     bidirectional=True), (5, 2, 3)),
    "lstm_proj": ("LSTM", dict(input_size=3, hidden_size=5, num_layers=2, proj_size=2),
                  (4, 2, 3)),
    "gru": ("GRU", dict(input_size=3, hidden_size=4, num_layers=2, batch_first=True),
            (2, 6, 3)),
}


def outputs(module, x):
    """The module's outputs by name; recurrent layers also give h_n (and c_n)."""
    with torch.no_grad():
        y = module(x)
    if isinstance(module, torch.nn.Linear):
        return {"output": y}
    output, state = y
    if isinstance(module, torch.nn.LSTM):
        return {"output": output, "h_n": state[0], "c_n": state[1]}
    return {"output": output, "h_n": state}


def main():
    out_dir = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "state_dict"
    out_dir.mkdir(parents=True, exist_ok=True)
    for seed, (stem, (kind, options, input_shape)) in enumerate(CASES.items()):
        torch.manual_seed(seed)
        module = getattr(torch.nn, kind)(**options).eval()
        x = torch.randn(*input_shape)
        tensors = {name: p.detach() for name, p in module.state_dict().items()}
        tensors["input"] = x
        tensors.update({f"expected.{k}": v for k, v in outputs(module, x).items()})
        metadata = {"kind": kind, "torch": torch.__version__}
        metadata.update({k: str(v).lower() if isinstance(v, bool) else str(v)
                         for k, v in options.items()})
        safetensors_io.save(out_dir / f"{stem}.safetensors", tensors, metadata)
        print(f"wrote {out_dir / stem}.safetensors")


if __name__ == "__main__":
    main()

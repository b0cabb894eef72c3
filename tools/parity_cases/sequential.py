"""A stack of recurrent layers and a linear head, as ../../../shared/PARITY.md describes.

The seed model SimpleRNN(5, return_sequences=True) -> SimpleRNN(3) ->
Dense(10) on input (10, 8), in PyTorch's layout: nn.RNN(8, 5) whole
sequence -> nn.RNN(5, 3) last time step -> nn.Linear(3, 10), batch_first,
batch 4, in float32 and float64; and the same shape of stack with LSTM and
GRU layers. Metadata `layers` lists the specs (`rnn:8:5:seq`, `lstm:...`,
`gru:...:last`, `linear:3:10`); parameters are prefixed by layer index.
"""

import torch

from parity_cases.common import backward_case, dtype_name

RECURRENT = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


class Stack(torch.nn.Module):
    """Applies the layers in turn; a recurrent layer keeps the whole output
    sequence (`seq`) or its last time step (`last`)."""

    def __init__(self, specs):
        super().__init__()
        self.specs = specs
        # Registered as "0", "1", ... so the names are "0.weight_ih_l0", "2.weight".
        for index, spec in enumerate(specs):
            kind, a, b, *rest = spec.split(":")
            if kind == "linear":
                layer = torch.nn.Linear(int(a), int(b))
            else:
                layer = RECURRENT[kind](int(a), int(b), batch_first=True)
            self.add_module(str(index), layer)

    def forward(self, x):
        for spec, layer in zip(self.specs, self.children()):
            if spec.startswith("linear"):
                x = layer(x)
            else:
                x = layer(x)[0]
                if spec.endswith(":last"):
                    x = x[:, -1]
        return x


def stack_case(specs, dtype, batch=4, steps=10):
    model = Stack(specs).to(dtype)
    features = int(specs[0].split(":")[1])
    inputs = {"input": torch.randn(batch, steps, features, dtype=dtype, requires_grad=True)}
    outputs = {"output": model(inputs["input"])}
    tensors = backward_case(model, inputs, outputs, {"output": "grad_output"})
    metadata = {"module": "sequential", "dtype": dtype_name(dtype), "layers": ",".join(specs)}
    return tensors, metadata


def cases():
    torch.manual_seed(3)
    seed = ["rnn:8:5:seq", "rnn:5:3:last", "linear:3:10"]
    gated = ["lstm:8:6:seq", "gru:6:4:last", "linear:4:10"]
    for dtype in (torch.float32, torch.float64):
        yield f"seed_model_{dtype_name(dtype)}", *stack_case(seed, dtype)
        yield f"lstm_gru_{dtype_name(dtype)}", *stack_case(gated, dtype)
    yield "gru_lstm_linear_seq", *stack_case(["gru:3:4:seq", "lstm:4:2:seq", "linear:2:5"],
                                             torch.float32, batch=2, steps=5)

"""torch.nn.RNN / LSTM / GRU and their cells, as ../../../shared/PARITY.md describes.

Layers: every combination of bias, batch_first, 1 or 2 layers, bidirectional
and h0 given or not (float32), plus one 3-layer case per module, relu RNNs,
LSTMs with proj_size, float64 variants, batch 1, one time step, a long
sequence and unbatched input. Cells: rnn_cell (tanh, relu), lstm_cell and
gru_cell with and without hx, with and without bias, batched and unbatched.
A cell's h' is `expected.output` (gradient `grad_output`) and an LSTM cell's
c' is `expected.c_n` (gradient `grad_c`).
"""

import itertools

import torch

from parity_cases.common import backward_case, dtype_name

INPUT, HIDDEN, STEPS, BATCH = 3, 4, 4, 2
LAYERS = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
CELLS = {"rnn_cell": torch.nn.RNNCell, "lstm_cell": torch.nn.LSTMCell,
         "gru_cell": torch.nn.GRUCell}


def layer_case(module, dtype=torch.float32, input_size=INPUT, hidden_size=HIDDEN, steps=STEPS,
               batch=BATCH, num_layers=1, bias=True, batch_first=False, bidirectional=False,
               with_h0=True, nonlinearity="tanh", proj_size=0, unbatched=False):
    """One layer case: (tensors, metadata)."""
    options = dict(num_layers=num_layers, bias=bias, batch_first=batch_first,
                   bidirectional=bidirectional)
    if module == "rnn":
        options["nonlinearity"] = nonlinearity
    if module == "lstm":
        options["proj_size"] = proj_size
    model = LAYERS[module](input_size, hidden_size, **options).to(dtype)
    directions = 2 if bidirectional else 1
    state_batch = () if unbatched else (batch,)
    if unbatched:
        shape = (steps, input_size)
    else:
        shape = (batch, steps, input_size) if batch_first else (steps, batch, input_size)
    inputs = {"input": torch.randn(*shape, dtype=dtype, requires_grad=True)}
    h_size = proj_size if proj_size > 0 else hidden_size
    if with_h0:
        inputs["h0"] = torch.randn(directions * num_layers, *state_batch, h_size, dtype=dtype,
                                   requires_grad=True)
        if module == "lstm":
            inputs["c0"] = torch.randn(directions * num_layers, *state_batch, hidden_size,
                                       dtype=dtype, requires_grad=True)
    if module == "lstm":
        state = (inputs["h0"], inputs["c0"]) if with_h0 else None
        output, (h_n, c_n) = model(inputs["input"], state)
        outputs = {"output": output, "h_n": h_n, "c_n": c_n}
    else:
        output, h_n = model(inputs["input"], inputs.get("h0"))
        outputs = {"output": output, "h_n": h_n}
    tensors = backward_case(model, inputs, outputs,
                            {"output": "grad_output", "h_n": "grad_h_n", "c_n": "grad_c_n"})
    metadata = {"module": module, "dtype": dtype_name(dtype), "input_size": input_size,
                "hidden_size": hidden_size, **options}
    return tensors, metadata


def cell_case(module, dtype=torch.float32, bias=True, with_hx=True, nonlinearity="tanh",
              unbatched=False):
    options = {"bias": bias}
    if module == "rnn_cell":
        options["nonlinearity"] = nonlinearity
    model = CELLS[module](INPUT, HIDDEN, **options).to(dtype)
    batch = () if unbatched else (BATCH,)
    inputs = {"input": torch.randn(*batch, INPUT, dtype=dtype, requires_grad=True)}
    if with_hx:
        inputs["hx"] = torch.randn(*batch, HIDDEN, dtype=dtype, requires_grad=True)
        if module == "lstm_cell":
            inputs["cx"] = torch.randn(*batch, HIDDEN, dtype=dtype, requires_grad=True)
    if module == "lstm_cell":
        state = (inputs["hx"], inputs["cx"]) if with_hx else None
        h, c = model(inputs["input"], state)
        outputs = {"output": h, "c_n": c}
    else:
        outputs = {"output": model(inputs["input"], inputs.get("hx"))}
    tensors = backward_case(model, inputs, outputs, {"output": "grad_output", "c_n": "grad_c"})
    metadata = {"module": module, "dtype": dtype_name(dtype), "input_size": INPUT,
                "hidden_size": HIDDEN, **options}
    return tensors, metadata


def layer_cases():
    for module in LAYERS:
        flags = itertools.product((True, False), repeat=5)
        for bias, batch_first, two_layers, bidirectional, with_h0 in flags:
            stem = "_".join([module, "bias" if bias else "nobias",
                             "bf" if batch_first else "tf", "l2" if two_layers else "l1",
                             "bi" if bidirectional else "uni", "h0" if with_h0 else "noh0"])
            yield stem, *layer_case(module, bias=bias, batch_first=batch_first,
                                    num_layers=2 if two_layers else 1,
                                    bidirectional=bidirectional, with_h0=with_h0)
        yield f"{module}_l3_bi", *layer_case(module, num_layers=3, bidirectional=True)
        yield f"{module}_f64_l2_bi", *layer_case(module, torch.float64, num_layers=2,
                                                 bidirectional=True)
        yield f"{module}_f64_bf_nobias_noh0", *layer_case(module, torch.float64, bias=False,
                                                          batch_first=True, with_h0=False)
        yield f"{module}_batch1", *layer_case(module, batch=1, num_layers=2)
        yield f"{module}_steps1", *layer_case(module, steps=1, bidirectional=True)
        yield f"{module}_long", *layer_case(module, steps=60, hidden_size=5, input_size=4)
        yield f"{module}_unbatched", *layer_case(module, unbatched=True, num_layers=2,
                                                 bidirectional=True)
        yield f"{module}_unbatched_noh0", *layer_case(module, unbatched=True, with_h0=False)
        yield f"{module}_sizes", *layer_case(module, input_size=5, hidden_size=6, steps=7,
                                             batch=3, num_layers=2, bidirectional=True)
    relu = dict(nonlinearity="relu")
    yield "rnn_relu", *layer_case("rnn", **relu)
    yield "rnn_relu_l2_bi_bf", *layer_case("rnn", num_layers=2, bidirectional=True,
                                           batch_first=True, **relu)
    yield "rnn_relu_nobias_noh0", *layer_case("rnn", bias=False, with_h0=False, **relu)
    yield "rnn_relu_f64_l2", *layer_case("rnn", torch.float64, num_layers=2, **relu)
    yield "rnn_relu_unbatched", *layer_case("rnn", unbatched=True, **relu)
    proj = dict(hidden_size=5, proj_size=3)
    yield "lstm_proj", *layer_case("lstm", **proj)
    yield "lstm_proj_noh0", *layer_case("lstm", with_h0=False, **proj)
    yield "lstm_proj_l2_bi", *layer_case("lstm", num_layers=2, bidirectional=True, **proj)
    yield "lstm_proj_bf_nobias", *layer_case("lstm", batch_first=True, bias=False, **proj)
    yield "lstm_proj_f64_l2_bi", *layer_case("lstm", torch.float64, num_layers=2,
                                             bidirectional=True, **proj)
    yield "lstm_proj_unbatched", *layer_case("lstm", unbatched=True, bidirectional=True, **proj)
    yield "lstm_proj_long", *layer_case("lstm", steps=60, **proj)


def cell_cases():
    variants = [("rnn_cell", "tanh"), ("rnn_cell", "relu"), ("lstm_cell", "tanh"),
                ("gru_cell", "tanh")]
    for (module, nonlinearity), dtype in itertools.product(variants,
                                                            (torch.float32, torch.float64)):
        for bias, with_hx, unbatched in itertools.product((True, False), repeat=3):
            name = module if module != "rnn_cell" else f"rnn_cell_{nonlinearity}"
            stem = "_".join([name, dtype_name(dtype), "bias" if bias else "nobias",
                             "hx" if with_hx else "nohx", "1d" if unbatched else "2d"])
            yield stem, *cell_case(module, dtype, bias=bias, with_hx=with_hx,
                                   nonlinearity=nonlinearity, unbatched=unbatched)


def cases():
    torch.manual_seed(2)
    yield from layer_cases()
    yield from cell_cases()

"""torch.nn.Linear: with and without bias, 1-D, 2-D and 3-D inputs, both dtypes."""

import torch

from parity_cases.common import backward_case, dtype_name


def cases():
    torch.manual_seed(1)
    for dtype in (torch.float32, torch.float64):
        for bias in (True, False):
            for shape in ((4,), (3, 4), (2, 3, 4)):
                model = torch.nn.Linear(4, 5, bias=bias).to(dtype)
                x = torch.randn(*shape, dtype=dtype, requires_grad=True)
                tensors = backward_case(model, {"input": x}, {"output": model(x)},
                                        {"output": "grad_output"})
                stem = f"linear_{dtype_name(dtype)}_{'bias' if bias else 'nobias'}_{len(shape)}d"
                yield stem, tensors, {"module": "linear", "dtype": dtype_name(dtype),
                                      "in_features": 4, "out_features": 5, "bias": bias}

"""Helpers shared by the parity case generators."""

import torch


def dtype_name(dtype):
    return "float64" if dtype == torch.float64 else "float32"


def backward_case(module, inputs, outputs, names):
    """Backpropagates sum(out * grad_out) over the named outputs.

    inputs: {name: leaf tensor}; outputs: {name: tensor}; names maps each
    output name to the name of its grad tensor in the case. Returns the
    case's tensors: parameters, inputs, grad_outputs and expected values.
    """
    tensors = {name: p.detach().clone() for name, p in module.state_dict().items()}
    tensors.update({name: t.detach().clone() for name, t in inputs.items()})
    loss = 0
    for out_name, out in outputs.items():
        g = torch.randn_like(out)
        tensors[names[out_name]] = g
        loss = loss + (out * g).sum()
        tensors[f"expected.{out_name}"] = out.detach().clone()
    loss.backward()
    for name, t in inputs.items():
        if t.grad is not None:
            tensors[f"expected.grad.{name}"] = t.grad.detach().clone()
    for name, p in module.named_parameters():
        if p.grad is not None:
            tensors[f"expected.grad.{name}"] = p.grad.detach().clone()
    return tensors

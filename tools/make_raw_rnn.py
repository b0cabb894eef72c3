"""Golden numbers for examples/raw_rnn, computed by PyTorch.

Writes tests/data/raw_rnn.safetensors: an nn.RNN(5, 3, batch_first=True) with
its weights, an input of shape (10, 15, 5), its output and h_n; and, for the
relu variant trained by plain gradient descent on the mean squared error
against `target`, the loss before each of `steps` updates.

Run: /usr/bin/python3 tools/make_raw_rnn.py
"""

import pathlib

import torch

import safetensors_io

LR, STEPS = 0.5, 5


def relu_rnn_losses(x, target, w_xh, w_hh, b):
    w_xh, w_hh, b = (p.clone().requires_grad_() for p in (w_xh, w_hh, b))
    losses = []
    for _ in range(STEPS):
        h = torch.zeros(x.shape[0], w_hh.shape[0])
        outputs = []
        for t in range(x.shape[1]):
            h = torch.relu(x[:, t] @ w_xh + h @ w_hh + b)
            outputs.append(h)
        loss = torch.mean((torch.stack(outputs, 1) - target) ** 2)
        losses.append(loss.item())
        grads = torch.autograd.grad(loss, [w_xh, w_hh, b])
        with torch.no_grad():
            for p, g in zip((w_xh, w_hh, b), grads):
                p -= LR * g
    return torch.tensor(losses, dtype=torch.float64)


def main():
    torch.manual_seed(0)
    rnn = torch.nn.RNN(5, 3, batch_first=True)
    x = torch.randn(10, 15, 5)
    with torch.no_grad():
        output, h_n = rnn(x)
    target = torch.rand(10, 15, 3)
    w_xh = rnn.weight_ih_l0.detach().t().contiguous()
    w_hh = rnn.weight_hh_l0.detach().t().contiguous()
    b = (rnn.bias_ih_l0 + rnn.bias_hh_l0).detach()
    tensors = {name: p.detach() for name, p in rnn.state_dict().items()}
    tensors.update(input=x, target=target, output=output, h_n=h_n,
                   relu_losses=relu_rnn_losses(x, target, w_xh, w_hh, b))
    out = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "raw_rnn.safetensors"
    out.parent.mkdir(exist_ok=True)
    safetensors_io.save(out, tensors, {"lr": LR, "steps": STEPS, "torch": torch.__version__})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

"""Golden numbers for examples/sine_to_cosine, computed by PyTorch.

The classic PyTorch tutorial: an nn.RNN(1, 32, batch_first=True) and an
nn.Linear(32, 1) on every time step learn to map sin(t) to cos(t), one chunk
[k pi, (k + 1) pi] of TIME_STEP points per step, the hidden state carried
from chunk to chunk (detached), MSE loss, Adam with lr 0.02.

Writes into tests/data/sine_to_cosine/:
  initial_state.safetensors  the state_dict before training (rnn.weight_ih_l0,
                             ..., out.bias), for sine_to_cosine --init
  chunks.safetensors         every chunk's t, x = sin t and y = cos t as
                             [STEPS, TIME_STEP] float32
  torch_losses.csv           step,loss: PyTorch's loss at each step

Run: /usr/bin/python3 tools/make_sine_to_cosine.py
     /usr/bin/python3 tools/make_sine_to_cosine.py --check WEIGHTS.safetensors
The second form trains PyTorch from weights that sine_to_cosine saved
(`sine_to_cosine --steps 0 --save WEIGHTS.safetensors` saves the initial
ones) and prints its losses, writing nothing.
"""

import argparse
import math
import pathlib

import torch

import safetensors_io

SEED, STEPS, TIME_STEP, HIDDEN, LR = 1, 60, 10, 32, 0.02


class SineToCosine(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = torch.nn.RNN(input_size=1, hidden_size=HIDDEN, num_layers=1, batch_first=True)
        self.out = torch.nn.Linear(HIDDEN, 1)

    def forward(self, x, h):
        y, h_n = self.rnn(x, h)
        # The tutorial loops self.out over the time steps; Linear on the last
        # dimension is the same map in one call.
        return self.out(y), h_n


def chunk(step):
    t = torch.linspace(step * math.pi, (step + 1) * math.pi, TIME_STEP, dtype=torch.float32)
    return t, torch.sin(t), torch.cos(t)


def train(model):
    """Returns the losses of every step and every chunk's t, x and y."""
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    h = torch.zeros(1, 1, HIDDEN)
    losses, ts, xs, ys = [], [], [], []
    for step in range(STEPS):
        t, x, y = chunk(step)
        ts.append(t), xs.append(x), ys.append(y)
        prediction, h_n = model(x.reshape(1, TIME_STEP, 1), h)
        h = h_n.detach()
        loss = torch.nn.functional.mse_loss(prediction, y.reshape(1, TIME_STEP, 1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, ts, xs, ys


def summary(losses):
    last = sum(losses[-10:]) / 10
    return (f"first loss {losses[0]:.6f}, mean of the last 10 {last:.6f} "
            f"(ratio {last / losses[0]:.4f}), final {losses[-1]:.6f}")


def check(path):
    model = SineToCosine()
    state, _ = safetensors_io.load(path)
    model.load_state_dict(state)
    losses, *_ = train(model)
    for step, loss in enumerate(losses):
        print(f"{step},{loss!r}")
    print(f"PyTorch from {path}: {summary(losses)}")


def main():
    torch.manual_seed(SEED)
    model = SineToCosine()
    initial = {name: p.detach().clone() for name, p in model.state_dict().items()}
    losses, ts, xs, ys = train(model)

    out = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "sine_to_cosine"
    out.mkdir(parents=True, exist_ok=True)
    metadata = {"seed": SEED, "steps": STEPS, "time_step": TIME_STEP, "hidden": HIDDEN,
                "lr": LR, "torch": torch.__version__}
    safetensors_io.save(out / "initial_state.safetensors", initial, metadata)
    chunks = {"t": torch.stack(ts), "x": torch.stack(xs), "y": torch.stack(ys)}
    safetensors_io.save(out / "chunks.safetensors", chunks, metadata)
    with open(out / "torch_losses.csv", "w") as f:
        f.write("step,loss\n")
        for step, loss in enumerate(losses):
            f.write(f"{step},{loss!r}\n")
    print(f"wrote {out}: {summary(losses)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", metavar="WEIGHTS", help="train from these weights, write nothing")
    args = parser.parse_args()
    if args.check:
        check(args.check)
    else:
        main()

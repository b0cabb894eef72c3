"""torch.nn.functional losses: mse_loss, l1_loss, cross_entropy, nll_loss,
binary_cross_entropy_with_logits, in both dtypes and several shapes.

Each case holds input, target (and weight / pos_weight when used),
expected.loss and expected.grad.input. A reduction of "none" gives a loss
per element: the gradient is then that of sum(loss * grad_output), and the
case holds grad_output too.
"""

import torch
import torch.nn.functional as F

from parity_cases.common import dtype_name

REDUCTIONS = ("none", "mean", "sum")


def loss_case(loss_fn, input, target, reduction, extra=None):
    """Runs loss_fn(x) on a leaf copy of input and backpropagates."""
    x = input.detach().clone().requires_grad_()
    loss = loss_fn(x)
    tensors = {"input": input.detach().clone(), "target": target.detach().clone()}
    tensors.update(extra or {})
    if reduction == "none":
        g = torch.randn_like(loss)
        tensors["grad_output"] = g
        (loss * g).sum().backward()
    else:
        loss.backward()
    tensors["expected.loss"] = loss.detach().clone()
    tensors["expected.grad.input"] = x.grad.detach().clone()
    return tensors


def shape_name(shape):
    return "x".join(str(s) for s in shape) if shape else "scalar"


def regression_cases(dtype):
    d = dtype_name(dtype)
    for module, fn, reductions in (("mse_loss", F.mse_loss, ("mean", "sum")),
                                   ("l1_loss", F.l1_loss, REDUCTIONS)):
        for shape in ((5,), (3, 4), (2, 3, 4)):
            for reduction in reductions:
                x = torch.randn(*shape, dtype=dtype)
                t = torch.randn(*shape, dtype=dtype)
                t.view(-1)[::3] = x.view(-1)[::3]  # ties: |x - t| has its kink there
                tensors = loss_case(lambda v: fn(v, t, reduction=reduction), x, t, reduction)
                yield (f"{module}_{d}_{reduction}_{shape_name(shape)}", tensors,
                       {"module": module, "dtype": d, "reduction": reduction})


def class_targets(shape, classes, ignore_index, with_ignored):
    """Class indices of shape; every third one is ignore_index when asked."""
    t = torch.randint(0, classes, shape, dtype=torch.int64)
    if with_ignored:
        t.view(-1)[1::3] = ignore_index
    return t


def classification_cases(dtype):
    d = dtype_name(dtype)
    # (name, input shape, with weight, ignore_index, with ignored targets, label smoothing)
    variants = (
        ("2d", (5, 4), False, -100, False, 0.0),
        ("2d_weight_ignore", (6, 4), True, -100, True, 0.0),
        ("2d_ignore_class", (6, 4), False, 1, False, 0.0),
        ("1d", (4,), False, -100, False, 0.0),
        ("kdim_weight_ignore", (2, 3, 4, 2), True, -100, True, 0.0),
        ("2d_smoothing", (5, 4), False, -100, True, 0.2),
        ("kdim_weight_smoothing", (2, 3, 4), True, -100, True, 0.1),
    )
    for name, shape, with_weight, ignore_index, with_ignored, smoothing in variants:
        classes = shape[0] if len(shape) == 1 else shape[1]
        sample_shape = () if len(shape) == 1 else shape[:1] + shape[2:]
        for reduction in REDUCTIONS:
            x = torch.randn(*shape, dtype=dtype) * 2
            t = class_targets(sample_shape, classes, ignore_index, with_ignored)
            w = torch.rand(classes, dtype=dtype) + 0.5 if with_weight else None
            extra = {"weight": w} if with_weight else {}
            meta = {"dtype": d, "reduction": reduction, "ignore_index": ignore_index,
                    "target_kind": "indices"}
            if smoothing == 0.0:
                logp = torch.log_softmax(x, dim=0 if len(shape) == 1 else 1)
                yield (f"nll_loss_{d}_{name}_{reduction}",
                       loss_case(lambda v: F.nll_loss(v, t, weight=w, ignore_index=ignore_index,
                                                      reduction=reduction),
                                 logp, t, reduction, extra),
                       {"module": "nll_loss", **meta})
            yield (f"cross_entropy_{d}_{name}_{reduction}",
                   loss_case(lambda v: F.cross_entropy(v, t, weight=w, ignore_index=ignore_index,
                                                       reduction=reduction,
                                                       label_smoothing=smoothing),
                             x, t, reduction, extra),
                   {"module": "cross_entropy", "label_smoothing": smoothing, **meta})

    # Class probabilities: (name, input shape, with weight, label smoothing).
    for name, shape, with_weight, smoothing in (("2d", (5, 4), False, 0.0),
                                                ("2d_weight", (5, 4), True, 0.0),
                                                ("1d", (4,), False, 0.0),
                                                ("kdim_weight_smoothing", (2, 3, 4), True, 0.2)):
        class_dim = 0 if len(shape) == 1 else 1
        for reduction in REDUCTIONS:
            x = torch.randn(*shape, dtype=dtype) * 2
            p = torch.softmax(torch.randn(*shape, dtype=dtype), dim=class_dim)
            w = torch.rand(shape[class_dim], dtype=dtype) + 0.5 if with_weight else None
            yield (f"cross_entropy_{d}_probs_{name}_{reduction}",
                   loss_case(lambda v: F.cross_entropy(v, p, weight=w, reduction=reduction,
                                                       label_smoothing=smoothing),
                             x, p, reduction, {"weight": w} if with_weight else {}),
                   {"module": "cross_entropy", "dtype": d, "reduction": reduction,
                    "ignore_index": -100, "target_kind": "probabilities",
                    "label_smoothing": smoothing})


def logistic_cases(dtype):
    d = dtype_name(dtype)
    for name, shape, with_pos_weight in (("2d", (4, 3), False), ("2d_pos_weight", (4, 3), True),
                                         ("3d_pos_weight", (2, 3, 5), True)):
        for reduction in REDUCTIONS:
            x = torch.randn(*shape, dtype=dtype) * 3
            x.view(-1)[0], x.view(-1)[1] = 40.0, -40.0  # far into both tails
            t = torch.rand(*shape, dtype=dtype)
            t.view(-1)[::2] = t.view(-1)[::2].round()  # hard 0/1 labels and soft ones
            pw = torch.rand(shape[-1], dtype=dtype) * 3 if with_pos_weight else None
            yield (f"binary_cross_entropy_with_logits_{d}_{name}_{reduction}",
                   loss_case(lambda v: F.binary_cross_entropy_with_logits(
                       v, t, pos_weight=pw, reduction=reduction),
                             x, t, reduction, {"pos_weight": pw} if with_pos_weight else {}),
                   {"module": "binary_cross_entropy_with_logits", "dtype": d,
                    "reduction": reduction})


def cases():
    torch.manual_seed(3)
    for dtype in (torch.float32, torch.float64):
        yield from regression_cases(dtype)
        yield from classification_cases(dtype)
        yield from logistic_cases(dtype)

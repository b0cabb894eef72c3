"""Golden numbers for optim/, computed by PyTorch (1.13, single-tensor kernels).

cases() yields (file_stem, {name: tensor}, {metadata: str}) for:
- optimizers (module sgd / adam / adamw / rmsprop): `param`, `grad.0` ...
  `grad.<steps-1>` and `expected.param` after `steps` steps, in float32 and
  float64, as ../../../shared/PARITY.md describes;
- LR schedules (module step_lr / exponential_lr / cosine_annealing_lr /
  reduce_lr_on_plateau): `expected.lrs` [steps + 1] (float64) holds the
  learning rate after construction and after each scheduler step;
  reduce_lr_on_plateau also has `metrics` [steps], the value fed to step k;
- clipping (module clip_grad_norm / clip_grad_value): `grad.0`, `grad.1`,
  `expected.grad.0`, `expected.grad.1`, and `expected.total_norm` (0-D) for
  clip_grad_norm.

Run: /usr/bin/python3 tools/parity_cases/optim.py  (writes tests/parity/optim/)
"""

import pathlib
import sys

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
import safetensors_io  # noqa: E402

STEPS = 5
PARAM_SHAPE = (5, 7)  # 35 elements: PyTorch's vectorised loop and its scalar tail both run
# Gradient scale per step; falling and rising magnitudes make amsgrad's max matter.
GRAD_SCALES = (2.0, 0.5, 1.0, 0.3, 1.5)

DTYPES = {"float32": torch.float32, "float64": torch.float64}

OPTIMIZERS = [
    ("sgd_plain", "sgd", dict(lr=0.1)),
    ("sgd_momentum", "sgd", dict(lr=0.1, momentum=0.9)),
    ("sgd_dampening", "sgd", dict(lr=0.05, momentum=0.9, dampening=0.3)),
    ("sgd_nesterov", "sgd", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("sgd_weight_decay", "sgd", dict(lr=0.1, momentum=0.5, weight_decay=0.01)),
    ("adam_default", "adam", dict()),
    ("adam_betas", "adam", dict(lr=0.05, betas=(0.8, 0.95), eps=1e-6)),
    ("adam_weight_decay", "adam", dict(lr=0.01, weight_decay=0.1)),
    ("adam_amsgrad", "adam", dict(lr=0.01, amsgrad=True)),
    ("adam_amsgrad_weight_decay", "adam", dict(lr=0.02, amsgrad=True, weight_decay=0.05)),
    ("adamw_default", "adamw", dict()),
    ("adamw_weight_decay", "adamw", dict(lr=0.05, betas=(0.85, 0.99), weight_decay=0.1)),
    ("adamw_amsgrad", "adamw", dict(lr=0.01, amsgrad=True, weight_decay=0.05)),
    ("rmsprop_default", "rmsprop", dict()),
    ("rmsprop_momentum", "rmsprop", dict(lr=0.01, momentum=0.9)),
    ("rmsprop_centered", "rmsprop", dict(lr=0.01, centered=True)),
    ("rmsprop_all", "rmsprop", dict(lr=0.005, alpha=0.9, eps=1e-6, weight_decay=0.1,
                                    momentum=0.5, centered=True)),
]

SCHEDULES = [
    ("step_lr", "step_lr", 0.1, 12, dict(step_size=3, gamma=0.5)),
    ("exponential_lr", "exponential_lr", 0.1, 12, dict(gamma=0.9)),
    ("cosine_annealing_lr", "cosine_annealing_lr", 0.1, 23, dict(T_max=5, eta_min=0.001)),
    ("cosine_annealing_lr_zero_min", "cosine_annealing_lr", 0.05, 20, dict(T_max=7)),
]

# Falls, stalls, improves a little (below the threshold), falls again, stalls.
PLATEAU_METRICS = [1.0, 0.8, 0.7, 0.7, 0.71, 0.699, 0.69, 0.5, 0.5, 0.5, 0.5, 0.5, 0.45,
                   0.45, 0.46, 0.47, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]
PLATEAUS = [
    ("reduce_lr_on_plateau", 0.1,
     dict(mode="min", factor=0.5, patience=2, threshold=0.01, cooldown=1)),
    ("reduce_lr_on_plateau_max_abs", 0.1,
     dict(mode="max", factor=0.3, patience=1, threshold=0.1, threshold_mode="abs",
          min_lr=0.002)),
]

CLIPS = [
    ("clip_grad_norm", dict(max_norm=1.0, norm_type=2.0)),
    ("clip_grad_norm_inactive", dict(max_norm=100.0, norm_type=2.0)),
    ("clip_grad_norm_inf", dict(max_norm=0.5, norm_type=float("inf"))),
    ("clip_grad_norm_l1", dict(max_norm=2.0, norm_type=1.0)),
    ("clip_grad_norm_p3", dict(max_norm=0.7, norm_type=3.0)),
    ("clip_grad_value", dict(clip_value=0.5)),
]


def text(value):
    """Metadata strings that parse back to the same double."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def optimizer_metadata(module, o):
    betas = o.get("betas", (0.9, 0.999))
    defaults = {
        "sgd": dict(lr=o.get("lr"), momentum=0.0, dampening=0.0, weight_decay=0.0,
                    nesterov=False),
        "adam": dict(lr=1e-3, beta1=betas[0], beta2=betas[1], eps=1e-8, weight_decay=0.0,
                     amsgrad=False),
        "adamw": dict(lr=1e-3, beta1=betas[0], beta2=betas[1], eps=1e-8, weight_decay=1e-2,
                      amsgrad=False),
        "rmsprop": dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                        centered=False),
    }[module]
    values = {k: o.get(k, v) for k, v in defaults.items()}
    return {k: text(v) for k, v in values.items()}


def optimizer_case(seed, module, options, dtype):
    g = torch.Generator().manual_seed(seed)
    param = torch.randn(PARAM_SHAPE, generator=g, dtype=dtype)
    grads = [torch.randn(PARAM_SHAPE, generator=g, dtype=dtype) * s for s in GRAD_SCALES]
    grads[0][0, 0] = 0.0  # a zero gradient reaches the eps-only denominator
    p = param.clone().requires_grad_()
    make = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
            "rmsprop": torch.optim.RMSprop}[module]
    opt = make([p], foreach=False, **options)
    for grad in grads:
        p.grad = grad.clone()
        opt.step()
    tensors = {"param": param, "expected.param": p.detach().clone()}
    tensors.update({f"grad.{k}": grad for k, grad in enumerate(grads)})
    return tensors


def lr_sequence(lr, steps, make_scheduler, metrics=None):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    scheduler = make_scheduler(opt)
    lrs = [opt.param_groups[0]["lr"]]
    for k in range(steps):
        opt.step()
        if metrics is None:
            scheduler.step()
        else:
            scheduler.step(metrics[k])
        lrs.append(opt.param_groups[0]["lr"])
    return torch.tensor(lrs, dtype=torch.float64)


def schedule_cases():
    makers = {"step_lr": torch.optim.lr_scheduler.StepLR,
              "exponential_lr": torch.optim.lr_scheduler.ExponentialLR,
              "cosine_annealing_lr": torch.optim.lr_scheduler.CosineAnnealingLR}
    for stem, module, lr, steps, o in SCHEDULES:
        lrs = lr_sequence(lr, steps, lambda opt: makers[module](opt, **o))
        meta = {"module": module, "lr": text(lr), "steps": str(steps), "dtype": "float64"}
        meta.update({k: text(v) for k, v in o.items()})
        yield stem, {"expected.lrs": lrs}, meta
    for stem, lr, o in PLATEAUS:
        metrics = PLATEAU_METRICS
        full = dict(mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                    cooldown=0, min_lr=0.0, eps=1e-8)
        full.update(o)
        lrs = lr_sequence(lr, len(metrics),
                          lambda opt: torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **full),
                          metrics)
        meta = {"module": "reduce_lr_on_plateau", "lr": text(lr), "steps": str(len(metrics)),
                "dtype": "float64"}
        meta.update({k: v if isinstance(v, str) else text(v) for k, v in full.items()})
        tensors = {"metrics": torch.tensor(metrics, dtype=torch.float64), "expected.lrs": lrs}
        yield stem, tensors, meta


def clip_cases(dtype_name, dtype):
    for seed, (stem, o) in enumerate(CLIPS):
        g = torch.Generator().manual_seed(100 + seed)
        grads = [torch.randn(3, 4, generator=g, dtype=dtype),
                 torch.randn(5, generator=g, dtype=dtype) * 0.5]
        params = [torch.zeros_like(grad, requires_grad=True) for grad in grads]
        for p, grad in zip(params, grads):
            p.grad = grad.clone()
        tensors = {f"grad.{k}": grad for k, grad in enumerate(grads)}
        if "clip_value" in o:
            torch.nn.utils.clip_grad_value_(params, o["clip_value"])
            meta = {"module": "clip_grad_value", "clip_value": text(o["clip_value"])}
        else:
            total = torch.nn.utils.clip_grad_norm_(params, o["max_norm"], o["norm_type"])
            tensors["expected.total_norm"] = total.detach().clone()
            meta = {"module": "clip_grad_norm", "max_norm": text(o["max_norm"]),
                    "norm_type": text(o["norm_type"])}
        tensors.update({f"expected.grad.{k}": p.grad.clone() for k, p in enumerate(params)})
        meta["dtype"] = dtype_name
        yield f"{stem}_f{dtype_name[5:]}", tensors, meta


def cases():
    for dtype_name, dtype in DTYPES.items():
        suffix = dtype_name[5:]  # "32" / "64"
        for seed, (stem, module, options) in enumerate(OPTIMIZERS):
            tensors = optimizer_case(seed, module, options, dtype)
            meta = {"module": module, "steps": str(STEPS), "dtype": dtype_name}
            meta.update(optimizer_metadata(module, options))
            yield f"{stem}_f{suffix}", tensors, meta
        yield from clip_cases(dtype_name, dtype)
    yield from schedule_cases()


def main():
    out = pathlib.Path(__file__).resolve().parents[2] / "tests" / "parity" / "optim"
    out.mkdir(parents=True, exist_ok=True)
    for stem, tensors, metadata in cases():
        safetensors_io.save(out / f"{stem}.safetensors", tensors, metadata)
        print(f"wrote {stem}.safetensors")


if __name__ == "__main__":
    main()

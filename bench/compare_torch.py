#!/usr/bin/python3
"""tapegrad against PyTorch on the same workloads, in one run.

    /usr/bin/python3 bench/compare_torch.py           # everything (~20-30 min)
    /usr/bin/python3 bench/compare_torch.py --quick   # B64 T100 H256 train steps, 1 thread

Builds tapegrad_bench (cmake, into build/ unless --build-dir says otherwise),
reads the workloads from it, then in each round runs every workload once per
side and setting, each run in a fresh process (so peak RSS is the
workload's own), alternating which side goes first. Reported times are the
medians over rounds of each process's median iteration.

Settings:
  same, 1 thread   OPENBLAS_NUM_THREADS=1 for both, torch.set_num_threads(1),
                   and PyTorch's OpenBLAS on the core type tapegrad chose
  same, 2 threads  as above with 2, plus OMP_WAIT_POLICY=PASSIVE for both
                   (else libgomp's spinning pool fights OpenBLAS's threads)
  torch default    PyTorch out of the box: this environment, its default threads

The last line is the geometric mean of tapegrad/PyTorch over the train
steps of the recurrent cells at 1 thread, same settings.
"""

import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The per-process timing rule; tapegrad_bench gets the same numbers.
TIMING = {"warmup": 2, "min_iters": 5, "min_time": 1.0}
QUICK_TIMING = {"warmup": 1, "min_iters": 5, "min_time": 0.5}


# ---------------------------------------------------------------- torch side


def peak_rss_mb():
    """This process image's peak resident set (VmHWM), as tapegrad_bench reports it:
    ru_maxrss would include the parent's peak, which Linux carries over fork and exec."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def torch_worker(spec, threads, timing):
    """Runs one workload in this process and prints one JSON line."""
    import ctypes

    import torch
    import torch.nn.functional as F

    if threads is not None:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    kind, mode = spec["kind"], spec["mode"]

    if kind in ("rnn", "lstm", "gru"):
        cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
        model = cls(spec["input_size"], spec["hidden_size"], num_layers=spec["num_layers"],
                    batch_first=True, bidirectional=spec["bidirectional"])
        out = (2 if spec["bidirectional"] else 1) * spec["hidden_size"]
        x = torch.randn(spec["batch"], spec["seq_len"], spec["input_size"])
        target = torch.randn(spec["batch"], spec["seq_len"], out)
        if mode == "forward":
            def step():
                with torch.no_grad():
                    model(x)
        else:
            def step():
                model.zero_grad(set_to_none=True)
                F.mse_loss(model(x)[0], target).backward()
    elif kind == "sine":
        torch.manual_seed(1)
        rnn = torch.nn.RNN(1, 32, batch_first=True)
        linear = torch.nn.Linear(32, 1)
        opt = torch.optim.Adam(list(rnn.parameters()) + list(linear.parameters()), lr=0.02)
        state = {"h": torch.zeros(1, 1, 32), "step": 0}

        def step():
            s = state["step"]
            state["step"] += 1
            t = torch.linspace(s * math.pi, (s + 1) * math.pi, 10)
            x, y = torch.sin(t).reshape(1, 10, 1), torch.cos(t).reshape(1, 10, 1)
            seq, h_n = rnn(x, state["h"])
            state["h"] = h_n.detach()
            loss = F.mse_loss(linear(seq), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    elif kind == "keras":
        rnn1 = torch.nn.RNN(8, 5, batch_first=True)
        rnn2 = torch.nn.RNN(5, 3, batch_first=True)
        dense = torch.nn.Linear(3, 10)
        params = [p for m in (rnn1, rnn2, dense) for p in m.parameters()]
        opt = torch.optim.Adam(params)
        x, y = torch.randn(32, 10, 8), torch.randn(32, 10)

        def step():
            seq, _ = rnn1(x)
            last, _ = rnn2(seq)
            loss = F.mse_loss(dense(last[:, -1]), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    else:
        raise SystemExit(f"compare_torch: no PyTorch version of workload kind '{kind}'")

    for _ in range(timing["warmup"]):
        step()
    times, total = [], 0.0
    while len(times) < 1000 and (len(times) < timing["min_iters"] or total < timing["min_time"]):
        start = time.perf_counter()
        step()
        seconds = time.perf_counter() - start
        times.append(seconds * 1e3)
        total += seconds

    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        core = lib.openblas_get_corename().decode()
    except OSError:
        core = "?"
    print(json.dumps({
        "name": spec["name"],
        "median_ms": statistics.median(times),
        "iters": len(times),
        "peak_rss_mb": peak_rss_mb(),
        "threads": torch.get_num_threads(),
        "core": core,
    }))


# ------------------------------------------------------------------- driver


def build_bench(build_dir):
    if not os.path.exists(os.path.join(build_dir, "CMakeCache.txt")):
        print(f"configuring {build_dir}", file=sys.stderr)
        subprocess.run(["cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release",
                        "-DTAPEGRAD_BUILD_BENCH=ON"], check=True, stdout=subprocess.DEVNULL)
    print(f"building tapegrad_bench in {build_dir}", file=sys.stderr)
    subprocess.run(["cmake", "--build", build_dir, "--target", "tapegrad_bench",
                    "-j", str(os.cpu_count() or 1)], check=True, stdout=subprocess.DEVNULL)
    return os.path.join(build_dir, "bench", "tapegrad_bench")


def run_json(cmd, env):
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"compare_torch: {' '.join(cmd)} failed:\n{done.stderr}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def timing_args(timing):
    return ["--warmup", str(timing["warmup"]), "--min-iters", str(timing["min_iters"]),
            "--min-time", str(timing["min_time"])]


def settings_env(threads, core):
    """The environment of one 'same settings' column, for both sides."""
    env = dict(os.environ)
    env["OPENBLAS_NUM_THREADS"] = str(threads)
    env["OMP_NUM_THREADS"] = str(threads)
    env.pop("OMP_WAIT_POLICY", None)
    if threads > 1:
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    return env, dict(env, OPENBLAS_CORETYPE=core)


def geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="only the B64 T100 H256 train steps, 1 thread, same settings")
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    parser.add_argument("--rounds", type=int, help="rounds (default 3, --quick 3)")
    parser.add_argument("--threads", default="1,2", help="thread counts of the same-settings "
                        "columns (default 1,2)")
    parser.add_argument("--filter", default="", help="regex on workload names")
    parser.add_argument("--no-default", action="store_true",
                        help="skip the PyTorch out-of-the-box runs")
    parser.add_argument("--json", help="also write every measurement to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--worker-threads", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker-timing", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        torch_worker(json.loads(args.worker), args.worker_threads, json.loads(args.worker_timing))
        return

    started = time.time()
    bench = build_bench(os.path.abspath(args.build_dir))
    timing = QUICK_TIMING if args.quick else TIMING
    rounds = args.rounds or 3
    thread_counts = [1] if args.quick else [int(t) for t in args.threads.split(",")]
    with_default = not (args.quick or args.no_default)

    specs = run_json([bench, "--list", "--json"], os.environ)
    pattern = r"_b64_t100_h256_train$" if args.quick else args.filter
    specs = [s for s in specs if re.search(pattern, s["name"])]
    if not specs:
        raise SystemExit(f"compare_torch: no workload matches '{pattern}'")

    config = run_json([bench, "--config", "--json"], settings_env(1, "")[0])[0]
    core = config["core"]
    print(config["line"])
    print(f"PyTorch runs on the same OpenBLAS with OPENBLAS_CORETYPE={core}; "
          f"{len(specs)} workloads, {rounds} rounds, "
          f"warmup {timing['warmup']}, >= {timing['min_iters']} iterations "
          f"and >= {timing['min_time']} s per process", flush=True)

    python = sys.executable or shutil.which("python3")
    me = os.path.abspath(__file__)

    def torch_cmd(spec, threads):
        cmd = [python, me, "--worker", json.dumps(spec), "--worker-timing", json.dumps(timing)]
        return cmd + (["--worker-threads", str(threads)] if threads is not None else [])

    results = {}  # (setting, side, name) -> [ms per round]; rss likewise
    rss = {}
    rates = {n: [] for n in thread_counts}

    def record(key, r):
        results.setdefault(key, []).append(r["median_ms"])
        rss.setdefault(key, []).append(r["peak_rss_mb"])

    for rnd in range(rounds):
        for n in thread_counts:
            tg_env, _ = settings_env(n, core)
            rates[n] += [run_json([bench, "--sgemm", "--json"], tg_env)[0]["sgemm_gflops"]]
        for i, spec in enumerate(specs):
            for n in thread_counts:
                tg_env, torch_env = settings_env(n, core)
                sides = [("tapegrad", [bench, "--run", spec["name"], "--json"] + timing_args(timing),
                          tg_env),
                         ("torch", torch_cmd(spec, n), torch_env)]
                if (rnd + i) % 2:
                    sides.reverse()
                for side, cmd, env in sides:
                    r = run_json(cmd, env)[0]
                    if side == "torch" and r["core"] not in (core, "?"):
                        raise SystemExit(f"compare_torch: PyTorch ran on {r['core']}, not {core}")
                    record((n, side, spec["name"]), r)
            if with_default:
                record(("default", "torch", spec["name"]), run_json(torch_cmd(spec, None),
                                                                    os.environ)[0])
            print(f"  round {rnd + 1}/{rounds}: {spec['name']} done "
                  f"({time.time() - started:.0f} s)", file=sys.stderr, flush=True)

    med = {k: statistics.median(v) for k, v in results.items()}
    peak = {k: max(v) for k, v in rss.items()}
    rate = {n: statistics.median(v) for n, v in rates.items()}

    header = (f"{'setting':<10} {'workload':<30} {'torch ms':>10} {'tapegrad ms':>12} "
              f"{'ratio':>6} {'GEMM bound':>11} {'tg/bound':>9} {'RSS torch':>10} "
              f"{'RSS tg':>7}" + (f" {'torch default':>14}" if with_default else ""))
    print()
    for n in thread_counts:
        print(f"sgemm through tapegrad, {n} thread{'s' if n > 1 else ''}: {rate[n]:.1f} GF/s")
    print()
    print(header)
    print("-" * len(header))
    rows = []
    for n in thread_counts:
        for spec in specs:
            name = spec["name"]
            torch_ms, tg_ms = med[(n, "torch", name)], med[(n, "tapegrad", name)]
            factor = 3 if spec["mode"] == "train" else 1
            bound = factor * spec["forward_gemm_flops"] / (rate[n] * 1e9) * 1e3
            line = (f"{str(n) + ' thr':<10} {name:<30} {torch_ms:>10.2f} {tg_ms:>12.2f} "
                    f"{tg_ms / torch_ms:>6.2f} {bound:>11.2f} {tg_ms / bound:>9.1f} "
                    f"{peak[(n, 'torch', name)]:>8.0f}MB {peak[(n, 'tapegrad', name)]:>5.0f}MB")
            if with_default:
                line += f" {med[('default', 'torch', name)]:>14.2f}"
            print(line)
            rows.append({"threads": n, "name": name, "torch_ms": torch_ms, "tapegrad_ms": tg_ms,
                         "gemm_bound_ms": bound, "torch_rss_mb": peak[(n, "torch", name)],
                         "tapegrad_rss_mb": peak[(n, "tapegrad", name)],
                         "torch_default_ms": med.get(("default", "torch", name))})
    print()
    print("ratio = tapegrad / PyTorch (below 1: tapegrad faster). GEMM bound = the forward's "
          "matrix FLOPs (x3 for a train step) at the sgemm rate above.")
    if with_default:
        print("torch default = PyTorch with this environment unchanged and its default threads.")
    print(f"took {time.time() - started:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"config": config, "sgemm_gflops": rate, "rows": rows}, f, indent=1)

    cells = [s["name"] for s in specs if s["mode"] == "train" and s["kind"] in ("rnn", "lstm", "gru")]
    ratios = [med[(1, "tapegrad", c)] / med[(1, "torch", c)] for c in cells
              if (1, "torch", c) in med]
    print(f"geomean ratio tapegrad/pytorch: {geomean(ratios):.3f}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""wgpu_mlp's estimators against scikit-learn's MLPClassifier: the same data, the same
hyperparameters, the same estimator API, in one process.

  speed:  fit time per epoch and samples/s, interleaved rounds (each round fits every program
          once per configuration, one after the other), medians with their spread
  parity: test accuracy per solver after the same epochs

  A: 784-64-10, batch 100          B: 784-256-256-10, batch 128
  C: 784-1024-1024-10, batch 256   (ReLU, softmax outputs, alpha 1e-4 as scikit-learn's default)

The data are Fashion-MNIST from --data (IDX files; Debian: apt-get install
dataset-fashion-mnist) or, without it, the 10,000 bundled MNIST digits; pixels scaled to [0, 1]
as float32 for both programs (scikit-learn then computes in float32 too). Fit time includes
everything `fit` does (validation, initialisation, copying X into the engine); the warm-up fit
before the first round is not timed, so a GPU engine's shader compilation is not counted.

    pip install ./python scikit-learn                     # the package under test
    python3 benches/peers/sklearn_mlp.py speed --rounds 3 --configs A,B
    python3 benches/peers/sklearn_mlp.py parity --epochs 20
"""
import argparse
import gzip
import json
import os
import statistics
import struct
import sys
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkMLP

import wgpu_mlp

NETS = {"A": ((64,), 100), "B": ((256, 256), 128), "C": ((1024, 1024), 256)}
HERE = os.path.dirname(os.path.abspath(__file__))
BUNDLED = os.path.join(HERE, "..", "..", "data", "mnist")
FASHION = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path) as f:
        magic = struct.unpack(">I", f.read(4))[0]
        dims = struct.unpack(">" + "I" * (magic & 0xFF), f.read(4 * (magic & 0xFF)))
        return np.frombuffer(f.read(), dtype=np.uint8).reshape(dims)


def load(data):
    """(X_train, y_train, X_test, y_test, name): float32 pixels in [0, 1]."""
    def images(stem):
        x = read_idx(os.path.join(data, f"{stem}-images-idx3-ubyte.gz"))
        return (x.reshape(len(x), -1) / np.float32(255)).astype(np.float32)

    def labels(stem):
        return read_idx(os.path.join(data, f"{stem}-labels-idx1-ubyte.gz")).astype(np.int64)

    if os.path.exists(os.path.join(data, "train-images-idx3-ubyte.gz")):
        return images("train"), labels("train"), images("t10k"), labels("t10k"), data
    # the bundled test set only: 8,000 to train, 2,000 to test
    x, y = images("t10k"), labels("t10k")
    return x[:8000], y[:8000], x[8000:], y[8000:], "bundled MNIST digits"


def estimators(hidden, batch, epochs, solver, lr, devices, seed=0):
    common = dict(
        hidden_layer_sizes=hidden, solver=solver, batch_size=batch, learning_rate_init=lr,
        max_iter=epochs, tol=0.0, n_iter_no_change=epochs + 1, random_state=seed,
    )
    progs = [("scikit-learn", lambda: SkMLP(**common))]
    for d in devices:
        progs.append((f"wgpu_mlp {d}", lambda d=d: wgpu_mlp.MLPClassifier(device=d, **common)))
    return progs


def fit_timed(make, X, y):
    est = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        est.fit(X, y)
        seconds = time.perf_counter() - t0
    return est, seconds


def speed(a, X, y):
    results = {}  # (program, config) -> [seconds per epoch]
    for name in a.configs.split(","):
        hidden, batch = NETS[name]
        for prog, make in estimators(hidden, batch, 1, "adam", 1e-3, a.devices):
            fit_timed(make, X[:2000], y[:2000])  # warm-up: imports, thread pools, GPU pipelines
    for r in range(a.rounds):
        print(f"round {r + 1} of {a.rounds}", file=sys.stderr)
        for name in a.configs.split(","):
            hidden, batch = NETS[name]
            for prog, make in estimators(hidden, batch, a.epochs, "adam", 1e-3, a.devices):
                est, s = fit_timed(make, X, y)
                results.setdefault((prog, name), []).append(s / est.n_iter_)
    n = len(X)
    print(f"\nAdam, {n:,} samples, {a.epochs} epochs per fit; median of {a.rounds} interleaved rounds\n")
    print("| config | program | s/epoch (min–max) | samples/s | vs scikit-learn |")
    print("|---|---|---|---|---|")
    rows = []
    for name in a.configs.split(","):
        base = statistics.median(results[("scikit-learn", name)])
        for (prog, cfg), v in results.items():
            if cfg != name:
                continue
            m = statistics.median(v)
            print(f"| {cfg} | {prog} | {m:.3f} ({min(v):.3f}–{max(v):.3f}) | {n / m:,.0f} | {base / m:.2f}× |")
            rows.append(dict(config=cfg, program=prog, seconds_per_epoch=v, samples=n, epochs=a.epochs))
    return rows


def parity(a, X, y, Xt, yt):
    seeds = range(a.seed, a.seed + a.seeds)
    print(f"\n{len(X):,} train / {len(Xt):,} test samples, hidden {a.hidden}, batch 'auto', {a.epochs} epochs, "
          f"random_state {seeds.start}–{seeds.stop - 1}\n")
    print("| solver | program | test accuracy, mean (min–max) | fit s, median |")
    print("|---|---|---|---|")
    rows = []
    for solver, lr in (("adam", 1e-3), ("sgd", 0.01)):
        acc, secs = {}, {}
        for seed in seeds:  # the programs interleaved within each seed
            for prog, make in estimators(tuple(a.hidden), "auto", a.epochs, solver, lr, a.devices, seed=seed):
                est, s = fit_timed(make, X, y)
                acc.setdefault(prog, []).append(est.score(Xt, yt))
                secs.setdefault(prog, []).append(s)
                rows.append(dict(solver=solver, program=prog, seed=seed, accuracy=acc[prog][-1], seconds=s))
        for prog, v in acc.items():
            print(f"| {solver} | {prog} | {100 * np.mean(v):.2f}% ({100 * min(v):.2f}–{100 * max(v):.2f}) | "
                  f"{statistics.median(secs[prog]):.1f} |")
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["speed", "parity"])
    p.add_argument("--data", default=FASHION if os.path.isdir(FASHION) else BUNDLED)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=None, help="speed: 3, parity: 20")
    p.add_argument("--configs", default="A,B")
    p.add_argument("--devices", default="cpu", help="our engines, comma-separated: cpu,gpu")
    p.add_argument("--hidden", type=int, nargs="+", default=[100], help="parity: hidden layer sizes")
    p.add_argument("--seed", type=int, default=0, help="parity: the first random_state")
    p.add_argument("--seeds", type=int, default=3, help="parity: random_states averaged over")
    p.add_argument("--json", help="also write every measurement to this file")
    a = p.parse_args()
    a.devices = [d for d in a.devices.split(",") if d]
    a.epochs = a.epochs or (3 if a.mode == "speed" else 20)
    X, y, Xt, yt, name = load(a.data)
    print(f"data: {name}; {os.cpu_count()} CPUs; {wgpu_mlp.describe_device(a.devices[0]) if a.devices else ''}", file=sys.stderr)
    rows = speed(a, X, y) if a.mode == "speed" else parity(a, X, y, Xt, yt)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(mode=a.mode, data=name, rows=rows), f, indent=1)


if __name__ == "__main__":
    main()

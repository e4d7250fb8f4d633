#!/usr/bin/env python3
"""PyTorch peer for `wgpu-mlp bench`: trains the same configurations the same way and prints the
same JSON lines (one per configuration and optimizer).

  A: 784-64-10 ReLU, softmax cross-entropy, batch 100
  B: 784-256-256-10, batch 128
  C: 784-1024-1024-10, batch 256

The data are the bundled MNIST digits (../../data/mnist/t10k-*.gz), resident as one float32
tensor; each epoch draws a permutation and steps through it in minibatches, as our engines do.
Samples/s is the median of the timed epochs after one warm-up epoch. Threads default to the
machine's cores (torch.set_num_threads).

    python3 benches/peers/pytorch_mlp.py [--configs A,B,C] [--optimizers sgd,adam] [--epochs 5]
"""
import argparse
import gzip
import json
import os
import resource
import statistics
import struct
import time

import torch

NETS = {"A": ([784, 64, 10], 100), "B": ([784, 256, 256, 10], 128), "C": ([784, 1024, 1024, 10], 256)}
HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "data", "mnist")


def load_digits(samples):
    with gzip.open(os.path.join(DATA, "t10k-images-idx3-ubyte.gz")) as f:
        magic, n, rows, cols = struct.unpack(">IIII", f.read(16))
        assert magic == 0x803
        x = torch.frombuffer(bytearray(f.read()), dtype=torch.uint8).reshape(n, rows * cols)
    with gzip.open(os.path.join(DATA, "t10k-labels-idx1-ubyte.gz")) as f:
        magic, n = struct.unpack(">II", f.read(8))
        y = torch.frombuffer(bytearray(f.read()), dtype=torch.uint8).long()
    n = min(samples, n)
    return x[:n].float() / 255.0, y[:n]


def train_flops_per_sample(sizes):
    layers = [2.0 * a * b for a, b in zip(sizes, sizes[1:])]
    return 3.0 * sum(layers) - layers[0]


def bench(name, opt_name, x, y, epochs):
    sizes, batch = NETS[name]
    torch.manual_seed(0)
    t0 = time.perf_counter()
    mods = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        mods.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            mods.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*mods)
    for m in model:
        if isinstance(m, torch.nn.Linear):
            torch.nn.init.kaiming_normal_(m.weight)
            torch.nn.init.zeros_(m.bias)
    if opt_name == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    n = x.shape[0]

    def step(idx):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
        return loss

    step(torch.arange(batch))
    first_step = time.perf_counter() - t0

    def epoch():
        perm = torch.randperm(n)
        for s in range(0, n, batch):
            last = step(perm[s:s + batch])
        last.item()  # the epoch ends in a sync, as ours does

    epoch()  # warm-up
    rates = []
    for _ in range(epochs):
        t = time.perf_counter()
        epoch()
        rates.append(n / (time.perf_counter() - t))
    sps = statistics.median(rates)
    return {
        "config": name,
        "network": "-".join(map(str, sizes)),
        "batch": batch,
        "optimizer": opt_name,
        "device": f"pytorch {torch.__version__} cpu ({torch.get_num_threads()} threads)",
        "samples_per_second": sps,
        "gflops": sps * train_flops_per_sample(sizes) / 1e9,
        "first_step_seconds": first_step,
        "readbacks_per_epoch": 1,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "epochs_measured": epochs,
        "samples_per_epoch": n,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", default="A,B,C")
    p.add_argument("--optimizers", default="sgd,adam")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--samples", type=int, default=10_000)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    x, y = load_digits(a.samples)
    for name in a.configs.split(","):
        for opt in a.optimizers.split(","):
            print(json.dumps(bench(name.strip(), opt.strip(), x, y, a.epochs)), flush=True)


if __name__ == "__main__":
    main()

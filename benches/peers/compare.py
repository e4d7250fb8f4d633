#!/usr/bin/env python3
"""Interleaved comparison of wgpu-mlp with its peers on one machine, as the README's Results
table is made. Each round runs, one after the other: `wgpu-mlp bench` on the CPU engine, the
PyTorch script, `wgpu-mlp bench` on the GPU engine and Burn's wgpu backend (each part only when
it is there). The table shows per configuration and optimizer the median over rounds of each
program's samples/s (itself a median of timed epochs) and the ratios to the targets.

    cargo build --release                               # ours
    (cd benches/peers/burn && cargo build --release)     # optional: Burn
    python3 benches/peers/compare.py --rounds 3         # PyTorch from this interpreter
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OURS = os.path.join(ROOT, "target", "release", "wgpu-mlp")
BURN = os.path.join(ROOT, "benches", "peers", "burn", "target", "release", "burn-mlp-peer")
TORCH = os.path.join(ROOT, "benches", "peers", "pytorch_mlp.py")
# (ours vs peer) targets of issue 5
CPU_TARGET = {"A": 2.5, "B": 1.3, "C": 1.1}
GPU_TARGET = {"A": 3.0, "B": 1.5, "C": 1.5}


def json_lines(cmd, cwd=None):
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if out.returncode != 0:
        print(f"{' '.join(cmd)} failed: {out.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
    rows = []
    for line in out.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            rows.append(json.loads(line))
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--configs", default="A,B,C")
    p.add_argument("--no-gpu", action="store_true", help="skip our GPU engine and Burn")
    p.add_argument("--json", help="also write every measurement to this file")
    a = p.parse_args()

    have_torch = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True).returncode == 0
    have_burn = os.path.exists(BURN) and not a.no_gpu
    results = {}  # (program, config, optimizer) -> [samples/s per round]
    meta = {}
    for r in range(a.rounds):
        print(f"round {r + 1} of {a.rounds}", file=sys.stderr)
        parts = [("ours cpu", [OURS, "bench", "--json", "--devices", "cpu", "--configs", a.configs, "--epochs", str(a.epochs)], None)]
        if have_torch:
            parts.append(("pytorch", [sys.executable, TORCH, "--configs", a.configs, "--epochs", str(a.epochs)], None))
        if not a.no_gpu:
            parts.append(("ours gpu", [OURS, "bench", "--json", "--devices", "gpu", "--configs", a.configs, "--epochs", str(a.epochs)], None))
        if have_burn:
            parts.append(("burn wgpu", [BURN, "wgpu", a.configs, "sgd,adam", str(a.epochs)], os.path.dirname(os.path.dirname(os.path.dirname(BURN)))))
        for name, cmd, cwd in parts:
            for row in json_lines(cmd, cwd):
                key = (name, row["config"], row["optimizer"])
                results.setdefault(key, []).append(row["samples_per_second"])
                meta.setdefault(key, []).append(row)

    def med(name, cfg, opt):
        v = results.get((name, cfg, opt))
        return statistics.median(v) if v else None

    def fmt(x):
        return f"{x:,.0f}" if x else "–"

    print(f"median of {a.rounds} interleaved rounds, samples/s (each a median of {a.epochs} timed epochs)\n")
    print("| config | optimizer | ours CPU | PyTorch CPU | ratio (target) | ours GPU | Burn wgpu | ratio (target) |")
    print("|---|---|---|---|---|---|---|---|")
    for cfg in a.configs.split(","):
        for opt in ["sgd", "adam"]:
            oc, pt, og, bw = med("ours cpu", cfg, opt), med("pytorch", cfg, opt), med("ours gpu", cfg, opt), med("burn wgpu", cfg, opt)
            r1 = f"{oc / pt:.2f}× ({CPU_TARGET[cfg]}×)" if oc and pt else "–"
            r2 = f"{og / bw:.2f}× ({GPU_TARGET[cfg]}×)" if og and bw else "–"
            print(f"| {cfg} | {opt} | {fmt(oc)} | {fmt(pt)} | {r1} | {fmt(og)} | {fmt(bw)} | {r2} |")
    print("\nspread (min–max over rounds):")
    for key, v in sorted(results.items()):
        print(f"  {key[0]:9} {key[1]} {key[2]:4}: {min(v):>10,.0f} – {max(v):>10,.0f}")
    print("\nfirst step (s) and peak memory (MiB), medians:")
    for key, rows in sorted(meta.items()):
        fs = statistics.median(x["first_step_seconds"] for x in rows)
        mem = [x["peak_rss_mib"] for x in rows if x.get("peak_rss_mib")]
        print(f"  {key[0]:9} {key[1]} {key[2]:4}: first step {fs:6.3f} s, peak {statistics.median(mem) if mem else 0:6.0f} MiB")
    if a.json:
        with open(a.json, "w") as f:
            json.dump([dict(program=k[0], **row) for k, rows in meta.items() for row in rows], f, indent=1)


if __name__ == "__main__":
    main()

"""Benchmark: single-image prediction through a Predictor loaded once, against the path where every call
rebuilds the run (what `shinsou predict` did per invocation: read config.yaml, rebuild the network, load weights).

For each run given (an MNIST run and a transfer run), predicts N single images one at a time both ways and prints
p50/p99 latency, images/s and the ratio; with --evaluate also times Predictor.evaluate() on the run's test split
and reports its peak resident memory.
With --old-src PATH (a checkout of shinsou from before the Predictor, where each pipeline had
`predict_run(run_dir, files)`), the same images as PNG files also go through that old function, one call per
image, in a separate process; the loaded-once Predictor is timed on the same PNG files beside it.
Run: .venv/bin/python bench/predict.py --run runs/mnist-... --run runs/transfer-... [--n 1000] [--evaluate]
         [--old-src ../old-shinsou/src]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import shinsou


def sample_inputs(predictor, n: int, seed: int = 0) -> list[np.ndarray]:
    """N single images of the shape the run takes (random pixels: the cost of a forward pass does not depend on them)."""
    rng = np.random.default_rng(seed)
    example = np.asarray(predictor.example_input())
    return [rng.integers(0, 256, size=example.shape, dtype=np.uint8) for _ in range(n)]


def time_calls(function, inputs) -> np.ndarray:
    seconds = []
    for item in inputs:
        started = time.perf_counter()
        function(item)
        seconds.append(time.perf_counter() - started)
    return np.asarray(seconds)


def describe(label: str, seconds: np.ndarray) -> str:
    return (f"{label:<28} p50 {1000 * np.percentile(seconds, 50):8.2f} ms   p99 {1000 * np.percentile(seconds, 99):8.2f} ms"
            f"   {len(seconds) / seconds.sum():9.1f} images/s")


OLD_PATH = """
import json, sys, time
from pathlib import Path
import numpy as np, torch
torch.set_num_threads(int(sys.argv[3]))
from shinsou.pipelines import pipeline_module
from shinsou.engine.config import load_run_config
run, files = sys.argv[1], sorted(Path(sys.argv[2]).glob("*.png"))
module = pipeline_module(load_run_config(run)["pipeline"])
module.predict_run(run, [str(files[0])])
seconds = []
for f in files:
    t = time.perf_counter(); module.predict_run(run, [str(f)]); seconds.append(time.perf_counter() - t)
print(json.dumps(seconds))
"""


def old_predict_run(old_src: str, run: str, folder: Path, threads: int) -> np.ndarray:
    """Seconds per call of the old `predict_run(run_dir, [file])`, in a process that imports the old code."""
    done = subprocess.run([sys.executable, "-c", OLD_PATH, run, str(folder), str(threads)], capture_output=True,
                          text=True, env={"PYTHONPATH": old_src, "MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"})
    if done.returncode != 0:
        raise SystemExit(f"the old path failed: {done.stderr.strip().splitlines()[-1]}")
    return np.asarray(json.loads(done.stdout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", required=True, help="A run directory (repeat for several).")
    parser.add_argument("--n", type=int, default=1000, help="Single images predicted per path.")
    parser.add_argument("--reload-n", type=int, default=None, help="Images for the reload-per-call path (default: --n).")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--evaluate", action="store_true", help="Also time evaluate() on the run's test split.")
    parser.add_argument("--old-src", help="src/ folder of a shinsou from before the Predictor (predict_run per image).")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for run in args.run:
        started = time.perf_counter()
        predictor = shinsou.load(run)
        load_s = time.perf_counter() - started
        inputs = sample_inputs(predictor, args.n)
        predictor.predict([inputs[0]])  # warm-up (first-call allocations)
        loaded = time_calls(lambda x: predictor.predict([x]), inputs)
        reloaded = time_calls(lambda x: shinsou.load(run).predict([x]), inputs[:args.reload_n or args.n])
        pipeline = predictor.config.get("pipeline")
        print(f"{run} ({pipeline}, {predictor.config.get('model')}), load {load_s:.2f} s, {args.threads} threads")
        print(describe("loaded once", loaded))
        print(describe("shinsou.load() per call", reloaded))
        print(f"{'ratio (images/s)':<28} {np.mean(reloaded) / np.mean(loaded):.1f}x")
        if args.old_src:
            from PIL import Image

            with tempfile.TemporaryDirectory() as folder:
                files = []
                for i, image in enumerate(inputs):
                    files.append(Path(folder) / f"{i:05d}.png")
                    Image.fromarray(image).save(files[-1])
                on_files = time_calls(lambda f: predictor.predict([str(f)]), files)
                old = old_predict_run(args.old_src, run, Path(folder), args.threads)
            print(describe("loaded once, PNG files", on_files))
            print(describe("old predict_run per file", old))
            print(f"{'ratio (images/s)':<28} {np.mean(old) / np.mean(on_files):.1f}x")
        if args.evaluate:
            started, cpu = time.perf_counter(), time.process_time()
            metrics = predictor.evaluate()
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"evaluate: {metrics.get('n')} test images, accuracy {metrics.get('accuracy'):.4f}, "
                  f"{wall:.1f} s wall, {cpu:.1f} s CPU, peak resident {peak:.0f} MB (whole process)")


if __name__ == "__main__":
    main()

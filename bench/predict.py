"""Benchmark: single-image prediction through a Predictor loaded once, against the path where every call
rebuilds the run (what `shinsou predict` did per invocation: read config.yaml, rebuild the network, load weights).

For each run given (an MNIST run and a transfer run), predicts N single images one at a time both ways and prints
p50/p99 latency, images/s and the ratio; with --evaluate also times Predictor.evaluate() on the run's test split
and reports its peak resident memory.
Run: .venv/bin/python bench/predict.py --run runs/mnist-... --run runs/transfer-... [--n 1000] [--evaluate]
"""

from __future__ import annotations

import argparse
import resource
import time

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", required=True, help="A run directory (repeat for several).")
    parser.add_argument("--n", type=int, default=1000, help="Single images predicted per path.")
    parser.add_argument("--reload-n", type=int, default=None, help="Images for the reload-per-call path (default: --n).")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--evaluate", action="store_true", help="Also time evaluate() on the run's test split.")
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
        print(describe("reloaded per call (old path)", reloaded))
        print(f"{'ratio (images/s)':<28} {np.mean(reloaded) / np.mean(loaded):.1f}x")
        if args.evaluate:
            started, cpu = time.perf_counter(), time.process_time()
            metrics = predictor.evaluate()
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"evaluate: {metrics.get('n')} test images, accuracy {metrics.get('accuracy'):.4f}, "
                  f"{wall:.1f} s wall, {cpu:.1f} s CPU, peak resident {peak:.0f} MB (whole process)")


if __name__ == "__main__":
    main()

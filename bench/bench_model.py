"""Benchmark: forward + backward of the course model on a batch of 5 images at 224 px.

Prints the median over repeats, on the CPU (threads as torch chooses, and 2) and on a GPU if present.
Usage: python bench/bench_model.py [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from course_utils.data import load_imagenet_samples
from course_utils.image import preprocess
from course_utils.models import load_model


def time_fwd_bwd(model: torch.nn.Module, x: torch.Tensor, repeats: int) -> float:
    """Median seconds of one forward + backward pass (gradient w.r.t. the input)."""
    times = []
    for _ in range(repeats + 1):  # the first run warms up
        x_ = x.detach().clone().requires_grad_()
        if x.is_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        model(x_).max(dim=1).values.sum().backward()
        if x.is_cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()

    start = time.perf_counter()
    model = load_model("cpu")
    print(f"load_model (cpu, sha256 verified): {time.perf_counter() - start:.2f} s")
    X, _, _ = load_imagenet_samples()
    x = preprocess(X[:5])
    for threads in sorted({torch.get_num_threads(), 2}):
        torch.set_num_threads(threads)
        seconds = time_fwd_bwd(model, x, args.repeats)
        print(f"fwd+bwd, batch 5 @ 224 px, cpu, {threads} threads: {seconds * 1000:.0f} ms")
    if torch.cuda.is_available():
        gpu_model = load_model("cuda")
        seconds = time_fwd_bwd(gpu_model, x.cuda(), args.repeats)
        print(f"fwd+bwd, batch 5 @ 224 px, {torch.cuda.get_device_name()}: {seconds * 1000:.1f} ms")


if __name__ == "__main__":
    main()

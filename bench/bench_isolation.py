"""Cost of isolating one student process: root mode vs a user namespace (ordinary user) vs none.

Prints numbers; run with ``python bench/bench_isolation.py [--repeat N]``, once as root and once as an
ordinary user (e.g. ``setpriv --reuid=65534 --regid=65534 --clear-groups``; Python and the checkout
must be readable by that user). The template is started and warmed first; then each repeat starts a
:class:`autograder.isolation.sandbox.Sandbox` holding one small function, calls it once, and closes
it. Reported:
the student process's start (fork from the template, namespaces, mounts, capability drop, until it is
ready) and one call (fork, result back), median and spread over the repeats, with isolation on and off
(``Sandbox(isolate=False)``), so that the difference is the isolation's own cost.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from autograder.isolation.availability import isolation_of
from autograder.isolation.sandbox import Sandbox
from autograder.isolation.template_client import shared_template
from autograder.notebook_io.extraction import CodeChunk
from autograder.runner import Call

CODE = "def double(x):\n    return 2 * x\n"


def _measure(isolate: bool, repeat: int) -> tuple[list[float], list[float], str]:
    starts, calls, kind = [], [], ""
    for _ in range(repeat):
        opened = time.perf_counter()
        with Sandbox([CodeChunk("cell", CODE)], isolate=isolate) as box:
            starts.append(time.perf_counter() - opened)
            started = time.perf_counter()
            outcome = box.run("double", Call((torch.ones(3),)))
            calls.append(time.perf_counter() - started)
            kind = isolation_of(box.protections)
            assert outcome.status == "ok", outcome.message
    return starts, calls, kind


def _ms(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    return f"median {statistics.median(ms):6.1f} ms (min {ms[0]:.1f}, max {ms[-1]:.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=10, help="sandboxes started per mode (default 10)")
    args = parser.parse_args()
    started = time.perf_counter()
    shared_template()
    print(f"uid {os.getuid()}, template started in {time.perf_counter() - started:.1f} s")
    _measure(True, 2)  # warm caches
    for isolate in (True, False):
        starts, calls, kind = _measure(isolate, args.repeat)
        print(f"isolate={isolate!s:5} ({kind:14}) start: {_ms(starts)} | call: {_ms(calls)}")


if __name__ == "__main__":
    main()

"""Reading a process's cgroup limits and making limited groups (cgroup v1 or v2, whichever is writable).

These run a child process inside a :class:`LimitedGroup` and read its limits from inside, as the
grader does in a container. They need root (or a delegated hierarchy): elsewhere they are skipped,
saying why.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from autograder.cgroups import CgroupUnavailableError, LimitedGroup

pytestmark = pytest.mark.linux

READ = """
import json
from autograder import cgroups
print(json.dumps({
    "cpus": cgroups.cpu_quota(),
    "limit": cgroups.memory_limit(),
    "usage": cgroups.memory_usage(),
    "fixed": cgroups.unreclaimable_memory(),
    "oom": cgroups.oom_kills(),
    "faults": cgroups.major_faults(),
}))
"""


@pytest.fixture
def group():
    try:
        made = LimitedGroup(512 * 2**20, 0.5)
    except CgroupUnavailableError as exc:
        pytest.skip(str(exc))
    with made:
        yield made


def test_a_process_reads_the_limits_of_its_group(group: LimitedGroup) -> None:
    """Inside a group of 512 MiB and half a CPU, does the process read exactly those, and its use?"""
    out = subprocess.run(
        [sys.executable, "-c", READ], preexec_fn=group.join, capture_output=True, text=True, check=True
    )
    seen = json.loads(out.stdout)
    assert seen["cpus"] == 0.5
    assert seen["limit"] == 512 * 2**20
    assert 0 < seen["usage"] <= seen["limit"]
    assert 0 < seen["fixed"] <= seen["usage"]
    assert seen["oom"] == 0 and seen["faults"] >= 0


def test_the_group_counts_an_out_of_memory_kill(group: LimitedGroup) -> None:
    """Is a process that allocates past the limit killed by the kernel, and the kill counted?"""
    hog = "x = []\nwhile True:\n    x.append(bytearray(2**24))"
    done = subprocess.run(
        [sys.executable, "-c", hog], preexec_fn=group.join, capture_output=True, timeout=120
    )
    assert done.returncode == -9
    assert group.oom_kills() == 1
    assert group.peak_bytes() is None or group.peak_bytes() >= 500 * 2**20

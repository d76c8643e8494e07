"""Tests of the warm template: one process forks every student process, and shares nothing else.

The template saves the ~3 s of importing torch and loading the model per notebook; these tests check
that the saving costs no isolation: each notebook's student process starts from the template's
pristine state, whatever an earlier notebook did, inherits no file descriptor of the template, and a
template that dies is replaced without losing the next notebook.
"""

from __future__ import annotations

import os
import signal
import textwrap
import time
from pathlib import Path

import pytest

from autograder.isolation import origin as origin_module
from autograder.isolation import template_client as template_module
from autograder.isolation.sandbox import Sandbox
from autograder.isolation.template_client import TemplateError, shared_template
from autograder.notebook_io.extraction import CodeChunk
from autograder.runner import Call
from autograder.settings import Limits

#: Starts the grader's student processes: Linux only (skipped elsewhere).
pytestmark = pytest.mark.linux

POISON = textwrap.dedent(
    """
    import torch
    import course_utils.image as image
    image.MEAN = "poisoned"
    torch.nn.functional.relu6 = lambda *args, **kwargs: "poisoned"
    import os
    os.environ["LEFT_BEHIND"] = "yes"
    with open("left_behind.txt", "w") as f:
        f.write("x")

    def pid():
        return os.getpid()
    """
)

INSPECT = textwrap.dedent(
    """
    import os
    import torch
    import course_utils.image as image

    def _open_fds():
        found = {}
        for fd in os.listdir("/proc/self/fd"):
            try:
                found[fd] = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                pass  # the listing's own descriptor, closed by now
        return found

    FDS_AT_LOAD = _open_fds()

    def state():
        return {
            "mean": str(image.MEAN),
            "relu6": torch.nn.functional.relu6.__module__,
            "env": os.environ.get("LEFT_BEHIND", ""),
            "home": sorted(os.listdir(".")),
            "fds": FDS_AT_LOAD,
        }
    """
)


def _limits() -> Limits:
    return Limits(timeout_s=10)


def test_one_template_serves_every_notebook_and_nothing_leaks_between_them() -> None:
    """Do two notebooks share the template, yet the second sees none of what the first changed?"""
    with Sandbox([CodeChunk("cell 1", POISON)], _limits()) as first:
        poisoned_pid = first.run("pid", Call(())).value
        template_pid = shared_template()._proc.pid
    with Sandbox([CodeChunk("cell 1", INSPECT)], _limits()) as second:
        assert shared_template()._proc.pid == template_pid
        outcome = second.run("state", Call(()))
    assert outcome.status == "ok", outcome.message
    state = outcome.value
    assert isinstance(poisoned_pid, int)
    assert state["mean"] != "poisoned"
    assert state["relu6"] == "torch.nn.functional"
    assert state["env"] == ""
    assert state["home"] == []


def test_student_process_inherits_only_its_pipes() -> None:
    """At load time, does student code see stdio and its two pipes, and no socket of the template?"""
    with Sandbox([CodeChunk("cell 1", INSPECT)], _limits()) as box:
        fds = box.run("state", Call(())).value["fds"]
    assert len(fds) == 5 and {"0", "1", "2"} <= set(fds)
    assert not any(target.startswith("socket:") for target in fds.values())
    assert sum(target.startswith("pipe:") for target in fds.values()) == 2


@pytest.mark.slow
def test_dead_template_is_replaced() -> None:
    """If the template dies between notebooks, does the next notebook still load and run?"""
    old = shared_template()
    assert old._proc is not None
    os.kill(old._proc.pid, signal.SIGKILL)
    old._proc.wait(timeout=10)
    chunks = [CodeChunk("cell 1", "def f():\n    return 42")]
    with Sandbox(chunks, _limits()) as box:
        assert box.run("f", Call(())).value == 42
    assert shared_template() is not old


@pytest.mark.slow
def test_template_killed_mid_notebook_costs_only_that_call() -> None:
    """Does a template killed while a notebook is loaded give a 'crashed' call, then recover?"""
    chunks = [CodeChunk("cell 1", "def f():\n    return 7")]
    with Sandbox(chunks, _limits()) as box:
        assert box.run("f", Call(())).value == 7
        template = shared_template()
        os.kill(template._proc.pid, signal.SIGKILL)
        template._proc.wait(timeout=10)
        time.sleep(0.2)  # the student process dies with the template (parent-death signal)
        assert box.run("f", Call(())).value == 7  # restarted: template, then the student process


def test_origin_that_cannot_load_the_model_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    """When torch or the model cannot be loaded, is the TemplateError one that names the check to run?"""
    from autograder.isolation import template_server

    def broken() -> None:
        raise RuntimeError("simulated: no weights")

    monkeypatch.setattr(template_server, "warm_up", broken)
    with pytest.raises(TemplateError, match=r"load_model.*works"):
        origin_module._start_origin()


def test_templates_come_from_one_origin_and_share_its_memory() -> None:
    """Is this process's template a child of the origin, itself a child of this process, and does the
    template share the model's pages with it (almost nothing of its own)?"""
    template = shared_template()
    origin = origin_module._origin
    assert origin is not None and template._proc is not None

    def proc(pid: int, name: str) -> str:
        return Path(f"/proc/{pid}/{name}").read_text()

    assert int(proc(template._proc.pid, "stat").rsplit(")", 1)[1].split()[1]) == origin.process.pid
    assert int(proc(origin.process.pid, "stat").rsplit(")", 1)[1].split()[1]) == os.getpid()
    assert proc(template._proc.pid, "cmdline").startswith("autograder-template /")
    rollup = proc(template._proc.pid, "smaps_rollup")
    fields = {line.split(":")[0]: int(line.split()[1]) for line in rollup.splitlines()[1:]}
    private_mb = (fields["Private_Clean"] + fields["Private_Dirty"]) / 1024
    assert fields["Rss"] / 1024 > 200 and private_mb < 50, fields


def test_sealed_process_never_forks_an_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once this process has read references, does losing the origin give a TemplateError instead of a
    new origin forked from a process whose memory holds them?"""
    monkeypatch.setattr(origin_module, "_origin", None)
    monkeypatch.setattr(origin_module, "_origin_error", "")
    monkeypatch.setattr(origin_module, "_sealed", True)
    with pytest.raises(TemplateError, match="already read references"):
        origin_module.the_origin()


@pytest.mark.slow
def test_a_forked_grader_gets_its_own_template(monkeypatch: pytest.MonkeyPatch) -> None:
    """Is a template inherited through fork (a worker process) left to its owner, not reused?"""
    parent = shared_template()
    monkeypatch.setattr(parent, "owner", -1)  # as if this process were a fork of another grader
    try:
        mine = shared_template()
        assert mine is not parent
        assert mine._proc.pid != parent._proc.pid
    finally:
        monkeypatch.undo()
        template_module._shared.close()
        parent.close()
        template_module._shared = None

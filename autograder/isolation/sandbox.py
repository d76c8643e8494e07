"""The grader's side of a student process: start it, call student functions in it, read results safely.

A :class:`Sandbox` starts one student process per notebook (:mod:`autograder.isolation.student`),
forked from a warm template that already holds torch and the course model
(:mod:`autograder.isolation.template_client`); it isolates itself, executes the student's code
chunks and then waits. Each :meth:`Sandbox.run` forks a child from it, so every call starts from the
same warmed, pristine state, and whatever the call does (global torch settings, in-place weight
changes, ``sys.exit``, ``os._exit``, a crash, a hang, a huge allocation or print) ends with that child.

Only plain data crosses back: the child writes its result with ``torch.save`` and the grader reads
it with ``torch.load(weights_only=True)`` and then checks every type (:func:`autograder.runner.plain_data`).
Events come as typed messages (:mod:`autograder.isolation.protocol`) and are decoded strictly.
Expected outputs never enter the student process.

Protections (each recorded in :attr:`Sandbox.protections`; see docs/grading-safety.md):

* always: separate process with a scrubbed environment and a fresh working directory,
  ``python -I``, wall-clock timeout per call (the call's process group and, with a PID namespace,
  every process the student started are killed), ``RLIMIT_AS`` memory limit, output cap,
  ``RLIMIT_NPROC``, ``RLIMIT_FSIZE``;
* on Linux, as root: PID, network (no network at all), IPC and mount namespaces, the default-deny
  view of the file system (:mod:`autograder.isolation.mounts`: only Python, the packages, the course
  code and its own folders; the paths in ``hide`` covered should the view overlap them), privileges
  dropped to an unprivileged uid with ``no_new_privs``;
* on Linux, as an ordinary user: the same namespaces and view through a user namespace, every mount
  read-only but its own, no capabilities (:mod:`autograder.isolation.userns`).
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import signal
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from autograder.isolation.control import (
    EventReader,
    StudentProcess,
    decode_result,
    describe_exit_code,
    describe_wait_status,
    kill_student_processes,
    read_capped,
)
from autograder.isolation.exhaustion import MemoryWatch, memory_exhausted_message
from autograder.isolation.folders import SandboxFolder
from autograder.isolation.protocol import (
    CallDone,
    CallRequest,
    CallStarted,
    Chunk,
    Isolated,
    NotebookCode,
    Ready,
    SpawnConfig,
    encode,
)
from autograder.isolation.template_client import (
    TemplateError,
    shared_template,
    template_env,
    warm_template,
)
from autograder.isolation.uids import UidLease, lease_uid
from autograder.isolation.view import hidden_paths
from autograder.notebook_io.extraction import CodeChunk
from autograder.runner import Call, CallOutcome
from autograder.settings import Limits, TextCaps, Timeouts

__all__ = ["Sandbox"]


class Sandbox:
    """An isolated student process for one notebook's code; a context manager.

    Args:
        chunks: the student's code, from :func:`autograder.notebook_io.extraction.extract_student_code`.
        limits: time, memory and output limits.
        hide: paths the student process must not see (reference files, output and submissions
            folders). Course roots, the package's references and the checkout this package runs
            from are always hidden (:func:`autograder.isolation.view.hidden_paths`).
        isolate: use namespaces and hidden paths on Linux (with a leased uid as root, in a user
            namespace otherwise); off only to debug, or where none is available.
        uid: the unprivileged uid for student code when the grader runs as root; default: a free
            one leased from :data:`autograder.isolation.uids.UID_RANGE`.
        timeouts: how long to wait for the template and the student process's own answers.
        caps: caps on text coming back from the student process.
        course_roots: course source trees to hide as a whole (``--course-root``, Gradescope's).

    Attributes:
        setup_problems: what went wrong while loading the notebook's code (one line per chunk).
        grader_error: why the grader could not run the notebook at all (its template process failed):
            not the student's fault, so the result must not count.
        setup_output: what the notebook's top-level code printed (capped).
        protections: which protections are active, e.g. ``{"uid": "dropped to uid 61000", ...}``.

    Example:
        >>> with Sandbox(chunks, Limits(timeout_s=10)) as box:
        ...     outcome = box.run("gram_matrix", Call((torch.randn(1, 3, 4, 4),)))
    """

    def __init__(
        self,
        chunks: Sequence[CodeChunk],
        limits: Limits | None = None,
        *,
        hide: Sequence[str | Path] = (),
        isolate: bool = True,
        uid: int | None = None,
        timeouts: Timeouts | None = None,
        caps: TextCaps | None = None,
        course_roots: Sequence[str | Path] = (),
    ) -> None:
        self.chunks = list(chunks)
        self.limits = limits or Limits()
        self.timeouts = timeouts or Timeouts()
        self.caps = caps or TextCaps()
        self.hide = hidden_paths(hide, course_roots)  # course roots, references, ``hide``: what is on disk
        self.isolate = isolate
        self._requested_uid = uid
        self.uid: int | None = None
        self._lease: UidLease | None = None
        self.setup_problems: list[str] = []
        self.setup_output = ""
        self.protections: dict[str, str] = {}
        self._folder: SandboxFolder | None = None
        self._proc: StudentProcess | None = None
        self._cmd_w: int | None = None
        self._events: EventReader | None = None
        self._calls = 0
        self._broken: str | None = None  # why the student process cannot be started at all
        self.grader_error: str | None = None  # set when that is the grader's fault, not the notebook's

    @property
    def folder(self) -> Path | None:
        """This sandbox's private folder (``in/``, ``home/``, ``out/``); ``None`` outside ``with``."""
        return self._folder.root if self._folder is not None else None

    @staticmethod
    def warm() -> None:
        """Start this process's template in the background (so its imports overlap with the caller's)."""
        warm_template()

    # ----------------------------------------------------------------- lifecycle
    def __enter__(self) -> Sandbox:
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        return self

    def _open(self) -> None:
        if os.geteuid() == 0 and self.isolate:
            if self._requested_uid is not None:
                self.uid = self._requested_uid
            else:
                self._lease = lease_uid()
                self.uid = self._lease.uid
        self._folder = SandboxFolder(self.uid)  # private to this submission, locked while it lives
        code = NotebookCode(chunks=[Chunk(c.label, c.code, c.first_line) for c in self.chunks])
        self._folder.write_input("chunks.json", encode(code))
        self._start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the student process and everything it started; remove the working directory; give
        the uid back. Each step runs even when an earlier one fails."""
        try:
            self._stop()
        finally:
            try:
                if self._folder is not None:
                    self._folder.remove()
                    self._folder = None
            finally:
                if self._lease is not None:
                    self._lease.release()
                    self._lease = None

    def _fail_to_start(self, exc: Exception) -> None:
        self._broken = self.grader_error = f"the student process could not be started: {exc}"
        self.setup_problems.append(self._broken)

    def _start(self) -> None:
        assert self._folder is not None
        root = self._folder.root
        try:
            template = shared_template(self.timeouts)
        except TemplateError as exc:
            self._fail_to_start(exc)
            return
        home = str(self._folder.home)
        config = SpawnConfig(
            env=template_env(home),
            chunks=str(root / "in" / "chunks.json"),
            home=home,
            setup_output=str(root / "out" / "setup.txt"),
            hide=self.hide,
            isolate=self.isolate,
            uid=self.uid,
            limits=self.limits,
        )
        cmd_r, cmd_w = os.pipe()
        evt_r, evt_w = os.pipe()
        watch = MemoryWatch()
        try:
            self._proc = StudentProcess(template, template.spawn(config, cmd_r, evt_w))
        except TemplateError as exc:
            for fd in (cmd_w, evt_r):
                os.close(fd)
            self._fail_to_start(exc)
            return
        finally:
            os.close(cmd_r)
            os.close(evt_w)
        self._cmd_w, self._events = cmd_w, EventReader(evt_r, self.caps)
        deadline = time.monotonic() + self.limits.setup_timeout_s
        isolated = self._events.next(deadline, Isolated)
        ready = self._events.next(deadline, Ready) if isolated is not None else None
        if isolated is not None:
            self.protections = dict(isolated.protections)
        setup_out, truncated = read_capped(root / "out" / "setup.txt", self.limits.output_bytes, None)
        self.setup_output = setup_out.decode(errors="replace") + ("\n[output truncated]" if truncated else "")
        if ready is None:
            if not self._proc.running():
                why = f"died while loading ({describe_exit_code(self._proc.returncode)})"
            elif self._events.malformed:
                why = "wrote something that is not a grader message to the grader's event pipe while loading"
            else:
                why = f"did not finish loading within {self.limits.setup_timeout_s:g} s"
            self._stop()
            self._note_memory_exhaustion(watch)
            self._broken = f"the notebook's code could not be loaded: the student process {why}"
            tail = self.setup_output.strip().splitlines()[-5:]
            if tail:
                self._broken += " (last output: " + " | ".join(tail) + ")"
            self.setup_problems.append(self._broken)
            return
        caps = self.caps
        self.setup_problems = [p[: caps.problem_chars] for p in ready.problems[: caps.max_problems]]
        self.protections.setdefault("timeout_s", str(self.limits.timeout_s))
        self.protections.setdefault("output_bytes", str(self.limits.output_bytes))

    def _stop(self) -> None:
        if self._proc is not None:
            self._kill_students(keep_zygote=False)
            if not self._proc.exited:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait(self.timeouts.process_exit_s)
            self._proc = None
        for fd in (self._cmd_w, self._events.fd if self._events is not None else None):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._cmd_w = self._events = None

    # ------------------------------------------------------------ process control
    def _kill_students(self, keep_zygote: bool = True) -> None:
        """Kill every process the student started (all but the zygote when ``keep_zygote``)."""
        if self._proc is not None:
            kill_student_processes(self._proc.pid, self.protections.get("pid_namespace") == "on", keep_zygote)

    # -------------------------------------------------------------------- calls
    def run(self, function: str, call: Call) -> CallOutcome:
        """Call a student function in a fresh fork of the student process.

        Args:
            function: the function's name in the notebook.
            call: its arguments (tensors, numbers, strings, lists/tuples/dicts of them, and
                :data:`autograder.runner.MODEL` / ``MODEL_FLOAT64`` for a pristine copy of the model)
                and the indices of arguments to send back after the call (in-place functions).

        Returns:
            The outcome; never raises for anything the student code does.
        """
        if self._folder is None:
            raise RuntimeError("use the Sandbox in a `with` block before calling functions")
        started = time.perf_counter()
        outcome = self._call(function, call)
        outcome.seconds = time.perf_counter() - started
        return outcome

    def _call(self, function: str, call: Call) -> CallOutcome:
        assert self._folder is not None
        if self._broken:
            return CallOutcome("crashed", message=self._broken)
        if self._proc is None or not self._proc.running():
            self._stop()
            self._start()
            if self._broken:
                return CallOutcome("crashed", message=self._broken)
        self._calls += 1
        n = f"{self._calls}-{secrets.token_hex(8)}"  # unguessable: no result can be planted in advance
        payload = {"args": list(call.args), "kwargs": dict(call.kwargs), "capture": list(call.capture_args)}
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        files: list[Path] = []
        try:
            files.append(self._folder.write_input(f"call{n}.pt", buffer.getvalue()))
            files += [self._folder.output_file(f"result{n}.pt"), self._folder.output_file(f"output{n}.txt")]
            inputs, result, output = (str(f) for f in files)
            return self._exchange(function, CallRequest(function, inputs, result, output))
        finally:
            for path in files:
                path.unlink(missing_ok=True)

    def _note_memory_exhaustion(self, watch: MemoryWatch, timed_out: bool = False) -> bool:
        """Record the machine's lack of memory since ``watch`` began as the grader's error (no grade):
        the kernel killed a process of this cgroup, or (a call that ``timed_out``) the cgroup thrashed
        at its limit. Returns whether it did."""
        killed = watch.killed()
        if not (killed or (timed_out and watch.thrashed())):
            return False
        self.grader_error = memory_exhausted_message(thrashing=not killed)
        return True

    def _exchange(self, function: str, request: CallRequest) -> CallOutcome:
        watch = MemoryWatch()
        try:
            assert self._cmd_w is not None
            os.write(self._cmd_w, encode(request))
        except OSError:
            self._stop()
            return CallOutcome("crashed", message="the student process died before the call")
        deadline = time.monotonic() + self.limits.timeout_s
        assert self._events is not None
        started = self._events.next(time.monotonic() + self.timeouts.call_start_s, CallStarted)
        done = self._events.next(deadline, CallDone) if started is not None else None
        timed_out = False
        if done is None:
            timed_out = started is not None and time.monotonic() >= deadline - 0.05
            self._kill_call(started)
            done = self._events.next(time.monotonic() + self.timeouts.call_report_s, CallDone)
            if done is None:  # the zygote itself misbehaves: start a new one next time
                self._stop()
        printed, truncated = read_capped(Path(request.output), self.limits.output_bytes, self.uid)
        text = printed.decode(errors="replace") + (
            f"\n[output truncated to {self.limits.output_bytes} bytes]" if truncated else ""
        )
        outcome = self._outcome(function, Path(request.result), done, timed_out)
        outcome.output = text
        if outcome.status in ("crashed", "timeout") and self._note_memory_exhaustion(
            watch, timed_out=outcome.status == "timeout"
        ):
            outcome.message = f"{function} was stopped: {self.grader_error}"
        return outcome

    def _kill_call(self, started: CallStarted | None) -> None:
        if self.protections.get("pid_namespace") == "on":
            self._kill_students(keep_zygote=True)
        elif started is not None and started.pid > 1:
            with contextlib.suppress(OSError):
                os.killpg(started.pid, signal.SIGKILL)

    def _outcome(self, function: str, result: Path, done: CallDone | None, timed_out: bool) -> CallOutcome:
        # Children the call left behind die now, whatever happened.
        if self.protections.get("pid_namespace") == "on":
            self._kill_students(keep_zygote=True)
        if timed_out:
            return CallOutcome(
                "timeout",
                message=f"{function} did not finish within {self.limits.timeout_s:g} s and was stopped "
                "(an endless loop, a long sleep, or far too much work?)",
            )
        data, too_big = read_capped(result, self.limits.file_mb * 1024 * 1024, self.uid)
        if not data:
            if done is None:
                return CallOutcome("crashed", message=f"{function} crashed the student process")
            if done.error is not None:
                why = done.error[: self.caps.error_chars]
            elif done.status is not None and done.status >= 0:
                why = describe_wait_status(done.status)
            else:
                why = "the process ended without a result"
            return CallOutcome("crashed", message=f"{function}: {why}")
        if too_big:
            return CallOutcome(
                "bad_output", message=f"{function} returned more than {self.limits.file_mb} MB"
            )
        return decode_result(function, data, self.caps)

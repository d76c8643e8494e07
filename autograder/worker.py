"""The student processes: run as ``python -I -m autograder.worker CONFIG.json`` by :mod:`autograder.template`.

Everything here runs *outside* the grader and is treated as untrusted once student code has run:
the grader checks every byte that comes back. The processes:

0. The *template* (:func:`main`), one per grader process: imports torch (one thread), numpy,
   matplotlib and every ``course_utils`` module, loads the course model and keeps its pristine
   weights. It never runs student code. For each notebook the grader asks it to fork a
   *student process* (:func:`student_process`), which starts from this warm state in milliseconds
   instead of seconds.
1. The student process leads its own session, closes every inherited file descriptor but its two
   pipes, and takes the environment and home the grader chose. (Linux) It unshares PID,
   network and mount namespaces (not root: in a user namespace, :mod:`autograder.userns`) and
   forks: the parent stays behind as a *guard* that only waits, the child is PID 1 of the new
   namespace (the *zygote*). Killing the guard kills the zygote (``PR_SET_PDEATHSIG``), and the
   death of the zygote kills every process in the namespace, escapees included.
2. The zygote hides paths (tmpfs mounted over reference folders, solutions, tests), mounts a fresh
   ``/proc`` and a private ``/tmp``, then drops to an unprivileged uid with no capabilities
   (``no_new_privs``; not root: empties the grader's home, makes mounts read-only and drops every
   capability) and sets rlimits. All of this happens before any student code runs.
3. It executes the student's code chunks one by one, each in ``try/except`` with a time limit.
4. For every call the grader asks for, it ``fork()``s a child that resets torch's global state,
   builds a fresh model from the pristine weights, loads fresh inputs, calls the function,
   converts the result to plain data and ``torch.save``\\ s it; the zygote reports the child's exit.

Protocols: the template answers JSON requests on a Unix socket pair and receives each student
process's pipes as file descriptors; a student process reads JSON lines from the command pipe and
writes JSON lines to the event pipe; tensors travel as files written with ``torch.save`` and read
with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import linecache
import os
import resource
import signal
import socket
import sys
import time
from typing import Any

from autograder import userns

__all__ = ["main"]

CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38

#: Exit code of a call child that finished normally (result file written).
EXIT_DONE = 0
#: Exit code of a call child whose own machinery failed (result could not be written).
EXIT_INTERNAL = 70

_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    _check(
        _libc.mount(
            source.encode(),
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def _send(fd: int, **event: Any) -> None:
    os.write(fd, (json.dumps(event) + "\n").encode())


def _isolate(config: dict[str, Any], cmd_fd: int, evt_fd: int, protections: dict[str, str]) -> None:
    """Namespaces and mounts (as root, or in a user namespace: :mod:`autograder.userns`).

    Forks: returns only in the zygote.
    """
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET
    unprivileged = os.geteuid() != 0  # userns: an ordinary user gets the namespaces through a user namespace
    try:
        if unprivileged:  # userns
            uid = os.getuid()  # userns
            config["max_processes"] = userns.process_limit(config["max_processes"])  # userns
            userns.enter(flags)  # userns
            protections["user_namespace"] = f"on (the grader's uid {uid} mapped to 0, no other uid)"  # userns
        else:
            _check(_libc.unshare(flags), "unshare")
    except OSError as exc:
        protections["namespaces"] = f"off ({exc})"
        return
    pid = os.fork()
    if pid:  # the guard: wait for the zygote, exit with its status
        for fd in (cmd_fd, evt_fd):
            os.close(fd)
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except ChildProcessError:
                status = 0
                break
            except InterruptedError:
                continue
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    protections["pid_namespace"] = "on"
    protections["network"] = "off (empty network namespace)"
    try:
        _mount("none", "/", None, MS_REC | MS_PRIVATE, None)
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
        hidden = []
        for path in config.get("hide", []):
            if os.path.isdir(path):
                _mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=000")
                hidden.append(path)
            elif os.path.exists(path):
                _mount("/dev/null", path, None, MS_BIND, None)
                hidden.append(path)
        protections["hidden_paths"] = ", ".join(hidden) or "none"
    except OSError as exc:
        protections["hidden_paths"] = f"off ({exc})"
    try:
        stage = os.path.join(os.path.dirname(config["home"]), "stage")
        # userns: the student has the grader's uid, no folder to expose; confine() empties instead
        exposed = _expose(_needed_paths(), stage) if not unprivileged else []
        if exposed:
            protections["private_parents"] = "emptied except " + ", ".join(exposed)
    except OSError as exc:
        protections["private_parents"] = f"not handled ({exc})"
    try:
        covered = _private_tmp(config)
        protections["private_tmp"] = ", ".join(covered) + f" (tmpfs, {config['tmp_mb']} MiB each)"
    except OSError as exc:
        protections["private_tmp"] = f"off ({exc})"
    if unprivileged:  # userns: hide the grader's home, /run...; everything read-only but home/out/tmp
        userns.confine(config, _needed_paths(), protections)  # userns


def _private_tmp(config: dict[str, Any]) -> list[str]:
    """Size-limited private tmpfs over /tmp, /var/tmp and /dev/shm, so writes cannot fill the disk.

    The sandbox folder's ``in`` and ``out`` (shared with the grader) are bind-mounted back through
    file descriptors opened before the tmpfs hides them; ``home`` is a fresh folder on the tmpfs.
    """
    home = config["home"]
    root = os.path.dirname(home)
    shared = {name: os.open(os.path.join(root, name), os.O_PATH | os.O_DIRECTORY) for name in ("in", "out")}
    # Python, the venv or the course checkout may themselves live under /tmp (a CI clone there):
    # keep them, with the mounts that hide parts of them (MS_REC), on top of the new tmpfs.
    needed = _needed_paths()
    outer = [p for p in needed if not any(p != q and p.startswith(q + "/") for q in needed)]
    covered = []
    try:
        for tmp in ("/tmp", "/var/tmp", "/dev/shm"):
            if not os.path.isdir(tmp) or os.path.islink(tmp):
                continue
            keep = {p: os.open(p, os.O_PATH | os.O_DIRECTORY) for p in outer if p.startswith(tmp + "/")}
            size = config["tmp_mb"] if tmp != "/dev/shm" else min(64, config["tmp_mb"])
            try:
                _mount("tmpfs", tmp, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size}m,mode=1777")
                for path, fd in keep.items():
                    os.makedirs(path, mode=0o755, exist_ok=True)
                    _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC, None)
            finally:
                for fd in keep.values():
                    os.close(fd)
            covered.append(tmp)
            if root.startswith(tmp.rstrip("/") + "/"):
                for name, fd in shared.items():
                    path = os.path.join(root, name)
                    os.makedirs(path, mode=0o755, exist_ok=True)
                    _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND, None)
                os.makedirs(home, mode=0o700, exist_ok=True)
                if config.get("uid") is not None:
                    os.chown(home, config["uid"], config["uid"])
                os.chmod(root, 0o755)
    finally:
        for fd in shared.values():
            os.close(fd)
    return covered


def _needed_paths() -> list[str]:
    """What the student process must read: Python itself, site-packages, the course code."""
    paths = {sys.base_prefix, sys.prefix, *(p for p in sys.path if p and os.path.isdir(p))}
    import importlib.util

    for name in ("course_utils", "autograder"):
        spec = importlib.util.find_spec(name)
        if spec and spec.origin:
            paths.add(os.path.dirname(os.path.dirname(spec.origin)))
    return sorted(os.path.realpath(p) for p in paths)


def _private_ancestor(path: str) -> str | None:
    """The highest folder above ``path`` that other users cannot enter (e.g. ``/root``)."""
    parts = path.strip("/").split("/")
    for i in range(1, len(parts)):
        ancestor = "/" + "/".join(parts[:i])
        if not os.stat(ancestor).st_mode & 0o001:
            return ancestor
    return None


def _expose(needed: list[str], stage: str) -> list[str]:
    """Make needed paths under private folders readable: an empty tmpfs over the private folder
    (hiding everything else in it, e.g. root's home) with only the needed paths bind-mounted back."""
    groups: dict[str, list[str]] = {}
    for path in needed:
        ancestor = _private_ancestor(path)
        if ancestor:
            groups.setdefault(ancestor, []).append(path)
    exposed = []
    for n, (ancestor, paths) in enumerate(sorted(groups.items())):
        # keep only outermost paths (a path inside another needed one comes along with it)
        outer = [p for p in paths if not any(p != q and p.startswith(q + "/") for q in paths)]
        staged = []
        for i, path in enumerate(outer):
            target = os.path.join(stage, f"{n}-{i}")
            os.makedirs(target, exist_ok=True)
            _mount(path, target, None, MS_BIND | MS_REC, None)
            staged.append((target, path))
        _mount("tmpfs", ancestor, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=755")
        for target, path in staged:
            os.makedirs(path, mode=0o755, exist_ok=True)
            _mount(target, path, None, MS_BIND | MS_REC, None)
            _libc.umount2(target.encode(), 2)  # MNT_DETACH
            exposed.append(path)
        _mount("none", ancestor, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None)
    return exposed


def _drop_privileges(uid: int, protections: dict[str, str]) -> None:
    try:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        protections["uid"] = f"dropped to uid {uid}"
    except OSError as exc:
        protections["uid"] = f"not dropped ({exc})"
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0:
        protections["no_new_privs"] = "on"


def _set_limits(config: dict[str, Any], protections: dict[str, str]) -> None:
    memory = config["memory_mb"] * 1024 * 1024
    file_cap = config["file_mb"] * 1024 * 1024
    for name, value in (
        ("RLIMIT_AS", memory),
        ("RLIMIT_FSIZE", file_cap),
        ("RLIMIT_NPROC", config["max_processes"]),
        ("RLIMIT_CORE", 0),
    ):
        try:
            resource.setrlimit(getattr(resource, name), (value, value))
            protections[name] = str(value)
        except (OSError, ValueError) as exc:
            protections[name] = f"not set ({exc})"


def _register_source(label: str, code: str, sources: dict[str, list[str]]) -> None:
    """Make tracebacks show the student's lines: merge the chunk into its cell's line cache."""
    lines = sources.setdefault(label, [])
    for number, line in enumerate(code.split("\n")):
        while len(lines) <= number:
            lines.append("\n")
        if line.strip():
            lines[number] = line + "\n"
    linecache.cache[label] = (sum(map(len, lines)), None, lines, label)


class _ChunkTimeout(BaseException):
    """Raised in a chunk that runs past its time limit (BaseException: ``except Exception`` won't eat it)."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise _ChunkTimeout


def _run_chunks(chunks: list[dict[str, str]], namespace: dict[str, Any], timeout_s: float) -> list[str]:
    from autograder.runner import student_traceback

    problems: list[str] = []
    sources: dict[str, list[str]] = {}
    signal.signal(signal.SIGALRM, _on_alarm)
    for chunk in chunks:
        label, code = chunk["label"], chunk["code"]
        _register_source(label, code, sources)
        try:
            compiled = compile(code, label, "exec")
            signal.setitimer(signal.ITIMER_REAL, timeout_s)
            try:
                exec(compiled, namespace)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except _ChunkTimeout:
            problems.append(f"{label}: ran longer than {timeout_s:g} s when the notebook was loaded; stopped")
        except SystemExit as exc:
            problems.append(f"{label}: called sys.exit({exc.code!r}) when the notebook was loaded; ignored")
        except BaseException as exc:
            problems.append(f"{label} raised an error when the notebook was loaded: {student_traceback(exc)}")
    return problems


def _memory_error(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and (
        "not enough memory" in text or "can't allocate memory" in text or "Cannot allocate memory" in text
    )


def _child(
    request: dict[str, Any], namespace: dict[str, Any], model_factory: Any, config: dict[str, Any]
) -> None:
    """Body of one call's process: never returns."""
    os.setsid()
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # dies with the zygote
    out = os.open(request["output"], os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW)  # made by the grader
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    # Keep the printed output small: a write past the soft limit fails (Python ignores SIGXFSZ).
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    soft = config["output_bytes"] + 4096
    resource.setrlimit(
        resource.RLIMIT_FSIZE, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard)
    )
    import torch

    from autograder.runner import captured, plain_data, prepare_call, reset_torch_state, student_traceback

    result: dict[str, Any]
    args: list[Any] = []
    try:
        reset_torch_state(request.get("seed", 0))
        torch.set_num_threads(1)
        payload = torch.load(request["input"], weights_only=True)
        func = namespace.get(request["function"])
        if not callable(func):
            result = {"status": "missing", "message": f"{request['function']} is not defined in the notebook"}
        else:
            from autograder.runner import Call

            call = Call(tuple(payload["args"]), payload["kwargs"], tuple(payload["capture"]))
            args, kwargs = prepare_call(call, model_factory)
            value = func(*args, **kwargs)
            try:
                result = {
                    "status": "ok",
                    "value": plain_data(value),
                    "args": captured(args, call.capture_args),
                }
            except TypeError as exc:
                result = {"status": "bad_output", "message": str(exc)}
    except SystemExit as exc:
        result = {"status": "crashed", "message": f"the function called sys.exit({exc.code!r})"}
    except BaseException as exc:
        status = "memory" if _memory_error(exc) else "error"
        try:
            message = student_traceback(exc)
        except BaseException:
            message = f"{type(exc).__name__} (its message could not be read)"
        if status == "memory":
            limit = config["memory_mb"]
            message = f"ran out of memory (limit {limit} MB per student process): {message}"
        result = {"status": status, "message": message}
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    try:
        resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
        try:  # into the file the grader made (the student cannot create files there)
            torch.save(result, request["result"])
        except BaseException as exc:
            torch.save(
                {"status": "bad_output", "message": f"the result could not be saved: {exc}"},
                request["result"],
            )
    except BaseException:
        os._exit(EXIT_INTERNAL)
    os._exit(EXIT_DONE)


def _reap_zombies() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _warm_up() -> tuple[Any, dict[str, Any]]:
    """Import what the notebooks import and load the model: the template's one-time work.

    Returns:
        ``(skeleton, pristine)``: the course model and a copy of its weights, from which every call
        builds a fresh model.
    """
    import importlib
    import pkgutil

    import torch

    torch.set_num_threads(1)
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(1)
    import matplotlib

    matplotlib.use("Agg")
    import course_utils

    for module in ("numpy", "matplotlib.pyplot", "autograder.runner"):
        importlib.import_module(module)
    for info in pkgutil.iter_modules(course_utils.__path__):  # the course modules students import
        importlib.import_module(f"course_utils.{info.name}")
    from course_utils.models import load_model

    skeleton = load_model("cpu")
    pristine = {k: v.clone() for k, v in skeleton.state_dict().items()}
    return skeleton, pristine


def _close_inherited_fds(keep: set[int]) -> None:
    """Close every file descriptor but stdio and ``keep``: the student inherits nothing of the template."""
    for entry in os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else ():
        fd = int(entry)
        if fd > 2 and fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)


def student_process(
    config: dict[str, Any], cmd_fd: int, evt_fd: int, warm: tuple[Any, dict[str, Any]], template_pid: int
) -> None:
    """Body of one notebook's student process, forked from the template: never returns.

    Args:
        config: from :class:`autograder.sandbox.Sandbox`: ``env``, ``home``, ``chunks`` (JSON file of
            code chunks), ``setup_output``, ``hide``, ``isolate``, ``uid`` and the limits.
        cmd_fd: commands from the grader (JSON lines).
        evt_fd: events to the grader (JSON lines).
        warm: the template's model and pristine weights (:func:`_warm_up`).
        template_pid: the parent; if it is already gone, exit at once.
    """
    import copy

    import torch

    started = time.perf_counter()
    os.setsid()
    # Die with the template (and so with the grader); it may have died before this line ran.
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != template_pid:
        os._exit(1)
    _close_inherited_fds({cmd_fd, evt_fd})
    os.set_inheritable(cmd_fd, False)
    os.set_inheritable(evt_fd, False)
    os.environ.clear()
    os.environ.update(config["env"])
    os.chdir(config["home"])
    protections: dict[str, str] = {}
    if config.get("isolate") and sys.platform.startswith("linux"):  # userns: root or not
        _isolate(config, cmd_fd, evt_fd, protections)
    else:
        protections["namespaces"] = "off (needs Linux)" if config.get("isolate") else "off (disabled)"

    # Setup output (imports, student top-level code) goes to a file, never to the grader's pipes.
    log = os.open(config["setup_output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)

    skeleton, pristine = warm

    def model_factory() -> torch.nn.Module:
        model = copy.deepcopy(skeleton)
        model.load_state_dict(pristine)
        model.eval()
        for param in model.parameters():
            param.requires_grad_(False)
        return model

    if config.get("uid") is not None and os.geteuid() == 0:
        os.chown(config["setup_output"], config["uid"], -1)
        _drop_privileges(config["uid"], protections)
        # Changing credentials cleared the parent-death signal: die with the guard (and so with the grader).
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    elif "user_namespace" in protections:  # userns: namespace root gives up every capability
        userns.drop_capabilities(protections)  # userns
    os.chdir(config["home"])
    _set_limits(config, protections)

    with open(config["chunks"]) as f:
        chunks = json.load(f)
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
    # Protections are reported before any student code runs (student code could write to evt_fd).
    _send(evt_fd, event="isolated", protections=protections)
    problems = _run_chunks(chunks, namespace, config["chunk_timeout_s"])
    sys.stdout.flush()
    sys.stderr.flush()
    _reap_zombies()
    _send(evt_fd, event="ready", problems=problems, seconds=time.perf_counter() - started)
    _serve_calls(os.fdopen(cmd_fd, "r"), evt_fd, namespace, model_factory, config)
    os._exit(0)


def _serve_calls(
    commands: Any, evt_fd: int, namespace: dict[str, Any], model_factory: Any, config: dict[str, Any]
) -> None:
    """Answer the grader's calls, one forked child each, until the command pipe closes."""
    for line in commands:
        request = json.loads(line)
        if request.get("command") != "call":
            break
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid = os.fork()
        except OSError as exc:  # e.g. the student's processes hit RLIMIT_NPROC
            _send(evt_fd, event="started", pid=-1)
            _send(evt_fd, event="done", status=-1, error=f"could not start the call: {exc}")
            continue
        if pid == 0:
            try:
                commands.close()
                os.close(evt_fd)
                _child(request, namespace, model_factory, config)
            finally:
                os._exit(EXIT_INTERNAL)
        _send(evt_fd, event="started", pid=pid)
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
        userns.kill_namespace()  # userns: whatever the call started dies with it (PID 1 only)
        _reap_zombies()
        _send(evt_fd, event="done", status=status)


def _reply(control: socket.socket, **message: Any) -> None:
    control.send(json.dumps(message).encode())


def _serve_template(control: socket.socket, warm: tuple[Any, dict[str, Any]]) -> None:
    """The template's loop: fork student processes and reap them when the grader asks. Never returns."""
    template_pid = os.getpid()
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(control, 1 << 20, 2)
        except InterruptedError:
            continue
        except OSError:
            os._exit(0)
        if not data:  # the grader closed its end
            os._exit(0)
        try:
            request = json.loads(data)
            op = request["op"]
        except (ValueError, KeyError, TypeError):
            os._exit(2)
        if op == "spawn" and len(fds) != 2:
            for fd in fds:
                os.close(fd)
            _reply(control, error=f"a spawn request needs 2 file descriptors, got {len(fds)}")
        elif op == "spawn":
            sys.stdout.flush()
            sys.stderr.flush()
            try:
                pid = os.fork()
            except OSError as exc:
                _reply(control, error=str(exc))
                pid = -1
            if pid == 0:
                try:
                    control.close()
                    student_process(request["config"], fds[0], fds[1], warm, template_pid)
                finally:
                    os._exit(EXIT_INTERNAL)
            for fd in fds:
                os.close(fd)
            if pid > 0:
                _reply(control, pid=pid)
        elif op == "wait":
            _reply(control, **_wait_child(int(request["pid"]), float(request.get("timeout", 0))))
        else:  # "stop", or anything unexpected
            for fd in fds:
                os.close(fd)
            os._exit(0)


def _wait_child(pid: int, timeout: float) -> dict[str, Any]:
    """Reap child ``pid`` if it exits within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not ours, or already reaped
            return {"exited": True, "status": None}
        if done:
            return {"exited": True, "status": status}
        if time.monotonic() >= deadline:
            return {"exited": False}
        time.sleep(0.005)


def main(argv: list[str] | None = None) -> None:
    """Run the template described by the JSON config file named in ``argv[0]``.

    The config holds ``control_fd`` (the template's end of the grader's socket pair) and
    ``grader_pid``.
    """
    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0]) as f:
        config: dict[str, Any] = json.load(f)
    started = time.perf_counter()
    # Die with the grader (it may be killed at any moment); the student processes die with us.
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != config["grader_pid"]:
        os._exit(1)
    control = socket.socket(fileno=config["control_fd"])
    control.set_inheritable(False)
    warm = _warm_up()
    _reply(control, event="ready", seconds=time.perf_counter() - started)
    _serve_template(control, warm)


if __name__ == "__main__":
    main()

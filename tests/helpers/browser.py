"""JupyterLab and headless Chromium as processes a test starts and stops by PID, on loopback only.

Neither needs the network: JupyterLab listens on 127.0.0.1 with a random token and does not fetch news
or check for updates; Chromium is the system's (Debian's ``chromium``, never a downloaded build), with
background networking off and every host name except the loopback address made unresolvable, and
Playwright attaches to it over the DevTools protocol (``connect_over_cdp``), so the test holds the
browser's PID itself.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LabServer", "chromium", "chromium_path", "jupyterlab", "stop_process_group"]

#: Where Debian (and CI, see .ci/run) installs Chromium.
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")


def chromium_path() -> str | None:
    """The system Chromium's path, or ``None`` when it is not installed."""
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process_group(process: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM the process group led by ``process.pid`` (started with a new session), then SIGKILL."""
    if process.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # children left behind in the group
    process.wait(timeout=grace)


@dataclass(frozen=True)
class LabServer:
    """A running JupyterLab: its base URL, token, PID, log file and the folder it serves."""

    url: str
    token: str
    pid: int
    log: Path
    root_dir: Path

    def notebook_url(self, relative_path: str) -> str:
        """The URL that opens ``relative_path`` (under the server's root) alone in a fresh JupyterLab
        workspace (``reset``: tabs a previous page left open are not restored), with the token."""
        return f"{self.url}/lab/tree/{relative_path}?reset&token={self.token}"


def _wait_until_up(url: str, token: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text()[-3000:]
            raise RuntimeError(f"JupyterLab exited with code {process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as response:
                json.load(response)
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    raise RuntimeError(f"JupyterLab did not answer within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


@contextmanager
def jupyterlab(python: Path, root_dir: Path, home: Path, env: dict[str, str]) -> Iterator[LabServer]:
    """Run ``python -m jupyterlab`` on a free loopback port with token auth; stop it by its PID on exit.

    Args:
        python: the interpreter of the environment to serve from (the student's).
        root_dir: the folder JupyterLab shows (the notebooks).
        home: an empty folder used as HOME and for Jupyter's config, data and runtime folders, so that
            nothing of the calling user's Jupyter set-up takes part.
        env: extra environment variables (e.g. ``COURSE_DATA_DIR``); PATH keeps only system folders.
    """
    port, token = _free_port(), secrets.token_hex(16)
    url = f"http://127.0.0.1:{port}"
    settings = home / "lab-settings"
    user_settings = {
        # no news or update checks (they would go to the network)
        "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
        # render every cell, not only those in view, so that a test can measure them all
        "notebook-extension/tracker": {"windowingMode": "none"},
    }
    for name, values in user_settings.items():
        path = settings / "@jupyterlab" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    full_env = {
        "HOME": str(home),
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        **env,
    }
    log = home / "jupyterlab.log"
    command = [
        str(python),
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root_dir}",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]
    if os.geteuid() == 0:  # CI runs as root; JupyterLab refuses that unless told
        command.append("--allow-root")
    with log.open("w") as out:
        process = subprocess.Popen(
            command, env=full_env, stdout=out, stderr=subprocess.STDOUT, cwd=root_dir, start_new_session=True
        )
    try:
        _wait_until_up(url, token, process, log, timeout=120)
        yield LabServer(url, token, process.pid, log, root_dir)
    finally:
        try:  # shuts the kernels down too
            request = urllib.request.Request(f"{url}/api/shutdown?token={token}", method="POST")
            urllib.request.urlopen(request, timeout=10).close()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        stop_process_group(process)


@contextmanager
def chromium(executable: str, profile: Path, width: int = 1366, height: int = 768) -> Iterator[str]:
    """Start headless Chromium with a DevTools port; yield its CDP endpoint URL; stop it by its PID.

    Args:
        executable: the system Chromium (:func:`chromium_path`).
        profile: an empty folder for the browser profile.
        width, height: the window size in CSS pixels (1366 x 768: a common laptop screen).
    """
    command = [
        executable,
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        f"--window-size={width},{height}",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-features=Translate,OptimizationHints,MediaRouter",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "about:blank",
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not port_file.is_file() or not port_file.read_text().strip():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Chromium ({executable}) did not start (exit code {process.poll()})")
            time.sleep(0.2)
        port = port_file.read_text().splitlines()[0]
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process_group(process)

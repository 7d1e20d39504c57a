"""Start JupyterLab for the browser, wait for it with deadlines, and stop everything it started.

(The plugin's own server starts as every test starts it: `serve()` in tests/support.py.)

Each server runs in its own session (process group), so one signal reaches it and any helper it forked.
Jupyter kernels start in sessions of their own, so they are found another way: every kernel's command line
names its connection file, which lives in the lab's private runtime folder; `sweep` kills whatever still
mentions that folder once the lab is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

__all__ = [
    "LAB_SETTINGS",
    "Service",
    "processes_mentioning",
    "start_jupyterlab",
    "sweep",
    "wait_until",
]

T = TypeVar("T")

# JupyterLab user settings that keep a scripted session quiet and complete: no news or update pop-ups (and no
# requests for them), no autosave racing the test, no extension manager reaching PyPI, and every cell rendered
# (the default windowing only renders cells near the viewport, so off-screen outputs would not be in the DOM).
LAB_SETTINGS: dict[str, dict[str, object]] = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/extensionmanager-extension/plugin": {"enabled": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}


def wait_until(predicate: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll `predicate` until it returns something truthy, and return that; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: not ready after {timeout:.0f} s")
        time.sleep(interval)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class Service:
    """A server process started for the tests: where it answers, where it logs, and how to stop it."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def ensure_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(
                f"{self.name} exited with code {self.process.returncode}; its log:\n{self.log_tail()}"
            )

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the whole process group (SIGINT would make Jupyter ask for confirmation), then SIGKILL."""
        if self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
        # The leader is gone; anything it forked into its group goes too.
        _signal_group(self.process.pid, signal.SIGKILL)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _spawn(cmd: list[str], *, env: Mapping[str, str], cwd: Path, log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(
            cmd,
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def processes_mentioning(marker: str) -> list[int]:
    """PIDs (other than this one) whose command line contains `marker`: a private temp path we created."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            found.append(int(entry.name))
    return found


def sweep(marker: str, *, timeout: float = 5.0) -> list[int]:
    """Kill every process still mentioning `marker` and return their PIDs (empty when shutdown was clean)."""
    leftovers = processes_mentioning(marker)
    for pid in leftovers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if leftovers:
        wait_until(
            lambda: not processes_mentioning(marker) or None, timeout=timeout, what="killing leftovers"
        )
    return leftovers


def start_jupyterlab(
    root_dir: Path, state_dir: Path, *, env: Mapping[str, str], timeout: float = 30.0
) -> Service:
    """JupyterLab on loopback, no token, serving `root_dir`, with every bit of its state under `state_dir`.

    The port is chosen by the server itself (port 0) and read back from the server-info file it writes into
    its private runtime folder, so there is no race for a port.
    """
    dirs = {
        name: state_dir / name for name in ("config", "data", "runtime", "settings", "workspaces", "ipython")
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    for plugin_id, values in LAB_SETTINGS.items():
        settings_file = dirs["settings"] / f"{plugin_id}.jupyterlab-settings"
        settings_file.parent.mkdir(parents=True, exist_ok=True)
        settings_file.write_text(json.dumps(values, indent=2))

    lab_env = {
        **env,
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]),
        "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
        "IPYTHONDIR": str(dirs["ipython"]),
        "PYTHONUNBUFFERED": "1",
    }
    cmd = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.port=0",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root_dir}",
        "--IdentityProvider.token=",
        "--PasswordIdentityProvider.hashed_password=",
        f"--LabApp.user_settings_dir={dirs['settings']}",
        f"--LabApp.workspaces_dir={dirs['workspaces']}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log_path = state_dir / "jupyterlab.log"
    process = _spawn(cmd, env=lab_env, cwd=root_dir, log_path=log_path)
    service = Service("JupyterLab", process, "", log_path)

    info_file = dirs["runtime"] / f"jpserver-{process.pid}.json"

    def server_info() -> dict[str, object] | None:
        service.ensure_alive()
        try:
            return json.loads(info_file.read_text())
        except (OSError, ValueError):
            return None

    try:
        info = wait_until(server_info, timeout=timeout, what="JupyterLab server-info file")
        service.url = str(info["url"]).rstrip("/")
        wait_until(
            lambda: service.ensure_alive() or _answers(f"{service.url}/api/status"),
            timeout=timeout,
            what="JupyterLab /api/status",
        )
    except BaseException:
        service.stop()
        sweep(str(state_dir))
        raise
    return service

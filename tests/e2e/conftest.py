"""Fixtures for the browser tests: a private JupyterLab, the plugin's own server, headless Chromium, artifacts.

Everything here is opt-in (`--run-e2e`, see tests/conftest.py) and offline: the servers listen on loopback,
and the browser aborts any request that would leave the machine, recording it so a test can fail on it.
Screenshots land in `e2e-artifacts/` (or `$E2E_ARTIFACTS`); the run ends by listing them.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from support import ServeProcess, serve

from .processes import Service, start_jupyterlab, sweep

if TYPE_CHECKING:  # playwright is imported lazily: `make test` runs without it
    from playwright.sync_api import Browser, Page, Route

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
VIEWPORT = {"width": 1280, "height": 800}

# Flags for a browser on a closed network: no background requests, no sandbox (CI runs as root in a container),
# no GPU, and /tmp instead of a small /dev/shm.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

_ARTIFACTS = pytest.StashKey[list[Path]]()
_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


class Artifacts:
    """Where screenshots and logs go; every saved path is listed at the end of the run."""

    def __init__(self, folder: Path, saved: list[Path]) -> None:
        self.folder = folder
        self._saved = saved

    def path(self, name: str) -> Path:
        path = self.folder / name
        self._saved.append(path)
        return path

    def screenshot(self, page: Page, name: str, **options: object) -> Path:
        path = self.path(f"{name}.png")
        page.screenshot(path=str(path), **options)
        return path


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """`make test` installs only the dev extra: without playwright, skip these files unless e2e was asked for."""
    if config.getoption("--run-e2e") or importlib.util.find_spec("playwright") is not None:
        return None
    return collection_path.name.startswith("test_")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """Keep each phase's report on the item, so the page fixture knows whether to take a failure screenshot."""
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    saved = [p for p in config.stash.get(_ARTIFACTS, []) if p.exists()]
    if saved:
        terminalreporter.section("e2e artifacts")
        for path in saved:
            size = path.stat().st_size
            terminalreporter.write_line(
                f"{path} ({size / 1024:.0f} KiB)" if size >= 1024 else f"{path} ({size} B)"
            )


@pytest.fixture(scope="session")
def artifacts(pytestconfig: pytest.Config) -> Artifacts:
    """A fresh `e2e-artifacts/` (gitignored; CI lists it), or the folder `$E2E_ARTIFACTS` names."""
    folder = Path(os.environ.get("E2E_ARTIFACTS", ROOT / "e2e-artifacts")).resolve()
    shutil.rmtree(folder, ignore_errors=True)  # a stale screenshot from an earlier run would mislead
    folder.mkdir(parents=True)
    return Artifacts(folder, pytestconfig.stash.setdefault(_ARTIFACTS, []))


@pytest.fixture(scope="session")
def workbook_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of notebooks/: running and saving in the UI must never touch the committed notebooks."""
    target = tmp_path_factory.mktemp("workbook") / "notebooks"
    shutil.copytree(NOTEBOOKS, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return target


@pytest.fixture(scope="session")
def jupyterlab(
    workbook_copy: Path, tmp_path_factory: pytest.TempPathFactory, artifacts: Artifacts
) -> Iterator[Service]:
    """JupyterLab on the workbook copy; its kernels see PRICE_SOURCE=sample, like `make notebooks`."""
    state_dir = tmp_path_factory.mktemp("jupyterlab-state")
    env = {**os.environ, "PRICE_SOURCE": "sample"}
    lab = start_jupyterlab(workbook_copy, state_dir, env=env)
    try:
        yield lab
    finally:
        lab.stop()
        shutil.copy(lab.log_path, artifacts.path("jupyterlab.log"))
        leftovers = sweep(str(state_dir))  # kernels live in sessions of their own; see processes.py
        assert not leftovers, f"JupyterLab left processes running (now killed): {leftovers}"


@pytest.fixture(scope="session")
def plugin_server(tmp_path_factory: pytest.TempPathFactory, artifacts: Artifacts) -> Iterator[ServeProcess]:
    """`python -m plugin serve --source sample`, run from an empty folder so it writes nothing into the repo."""
    cwd = tmp_path_factory.mktemp("plugin-server")
    with serve("--source", "sample", "--host", "127.0.0.1", "--port", "0", cwd=cwd) as server:
        try:
            yield server
        finally:
            artifacts.path("plugin-server.log").write_text(server.output)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by playwright (never `playwright install`: it downloads a browser)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: install Debian's (apt-get install chromium) or set E2E_CHROMIUM. "
            "Do not run `playwright install`: it downloads a browser, which fails offline."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def offsite_requests() -> list[str]:
    """URLs the page tried to fetch from anywhere but this machine (each was aborted)."""
    return []


@pytest.fixture
def page(
    browser: Browser, offsite_requests: list[str], artifacts: Artifacts, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """A fresh browser context and page; on failure, a screenshot named after the test is saved first."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(20_000)

    def keep_offline(route: Route) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if route.request.url.startswith(("data:", "blob:")) or host in {"127.0.0.1", "localhost", "::1"}:
            route.continue_()
        else:
            offsite_requests.append(route.request.url)
            route.abort()

    context.route("**/*", keep_offline)
    page = context.new_page()
    try:
        yield page
    finally:
        reports = request.node.stash.get(_REPORTS, {})
        if any(report.failed for report in reports.values()):
            artifacts.screenshot(page, f"FAILED-{request.node.name}", full_page=True)
        context.close()

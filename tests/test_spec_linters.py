"""The served `openapi.yaml` passes the linters users point at it: Redocly CLI 2 (recommended rules) and
Spectral 6 (`spectral:oas`), with no error and no warning, with and without an API token.

Each configuration is a real `python -m plugin serve --source sample` process; the spec is fetched from it over
HTTP, written to a file, and linted through `npx` (the npm cache keeps the packages after the first run, which
may take a minute). Skipped, with the reason, where `npx` is missing.

The spec is fetched at the address the server listens on (`http://127.0.0.1:PORT`), so with no `--base-url` its
`servers` names that origin. Fetched through the name `localhost` it names `localhost`, its own origin, and
Redocly's `no-server-example.com` (meant for published specs) would flag that one server.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from support import serve

REDOCLY = "@redocly/cli@2"
SPECTRAL = "@stoplight/spectral-cli@6"
LINT_TIMEOUT = 300.0  # seconds for one linter run: the first one downloads the package into the npm cache
PUBLIC = "https://prices.example.org"
TOKEN = ("--token", "lint-token", "--verification-token", "openai=issued")
CONFIGURATIONS = {
    "local, no token": (),
    "local, token": TOKEN,
    "public, no token": ("--base-url", PUBLIC),
    "public, token": ("--base-url", PUBLIC, *TOKEN),
}

NPX = shutil.which("npx")
pytestmark = pytest.mark.skipif(
    NPX is None, reason="npx (Node.js) is not installed: the spec linters need it"
)


def npx(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`npx --yes ARGS` with no update notices, telemetry or colour, bounded in time."""
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "NO_UPDATE_NOTIFIER": "1",
        "npm_config_update_notifier": "false",
        "npm_config_fund": "false",
        "REDOCLY_TELEMETRY": "off",
        "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true",
    }
    assert NPX is not None
    return subprocess.run(
        [NPX, "--yes", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=LINT_TIMEOUT
    )


def first_json(output: str, opening: str) -> Any:
    """The JSON document in a linter's output, which may say more before and after it."""
    assert opening in output, output
    return json.JSONDecoder().raw_decode(output, output.index(opening))[0]


def redocly_problems(spec: Path) -> set[tuple[str, str, str]]:
    """Every error and warning of Redocly's recommended rules, as (linter, rule, where)."""
    run = npx(REDOCLY, "lint", spec.name, "--format=json", cwd=spec.parent)
    report = first_json(run.stdout, "{")
    assert report["totals"]["errors"] + report["totals"]["warnings"] == len(report["problems"]), run.stdout
    return {("redocly", p["ruleId"], p["location"][0]["pointer"]) for p in report["problems"]}


def spectral_problems(spec: Path) -> set[tuple[str, str, str]]:
    """Every result of Spectral's `spectral:oas` ruleset (errors, warnings, infos and hints alike)."""
    ruleset = spec.parent / ".spectral.yaml"
    ruleset.write_text('extends: ["spectral:oas"]\n')
    run = npx(SPECTRAL, "lint", spec.name, "--ruleset", ruleset.name, "--format", "json", cwd=spec.parent)
    assert run.returncode in (0, 1), run.stderr
    results = first_json(run.stdout, "[")
    return {("spectral", r["code"], "#/" + "/".join(map(str, r["path"]))) for r in results}


@pytest.fixture(scope="module", params=list(CONFIGURATIONS), ids=list(CONFIGURATIONS))
def served_spec(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The spec a served instance answers at /openapi.yaml, written to a file of its own."""
    with serve("--source", "sample", "--port", "0", *CONFIGURATIONS[request.param]) as server:
        answer = httpx.get(f"{server.url}/openapi.yaml", timeout=10)
    assert answer.status_code == 200
    spec = tmp_path_factory.mktemp("spec") / "openapi.yaml"
    spec.write_bytes(answer.content)
    yield spec


def test_redocly_and_spectral_find_nothing_in_the_served_spec(served_spec: Path) -> None:
    assert redocly_problems(served_spec) | spectral_problems(served_spec) == set()


def test_the_spec_states_security_license_contact_and_tags(served_spec: Path) -> None:
    """What the linters asked for, read back: so a failure above says which of them went missing."""
    spec = yaml.safe_load(served_spec.read_text())
    assert spec["info"]["license"] == {"name": "MIT", "identifier": "MIT"}
    assert spec["info"]["contact"]["email"]
    assert {tag["name"] for tag in spec["tags"]} == {"prices", "fundamentals"}
    token = "securitySchemes" in spec.get("components", {})
    for item in spec["paths"].values():
        for operation in item.values():
            assert operation["tags"]
            assert operation["security"] == ([{"bearerAuth": []}] if token else [])

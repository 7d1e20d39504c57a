"""`make lab` opens on the chapters with no news or update pop-up: the shipped JupyterLab overrides are real settings."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OVERRIDES = ROOT / "jupyter" / "overrides.json"
SCHEMAS = Path(sys.prefix) / "share" / "jupyter" / "lab" / "schemas"


def test_every_override_names_a_real_plugin_setting_with_an_allowed_value() -> None:
    overrides = json.loads(OVERRIDES.read_text())
    assert "@jupyterlab/apputils-extension:notification" in overrides
    for plugin_id, values in overrides.items():
        package, _, plugin = plugin_id.partition(":")
        assert plugin, f"{plugin_id}: overrides are keyed 'package:plugin' (with a colon)"
        schema = json.loads((SCHEMAS / package / f"{plugin}.json").read_text())
        for key, value in values.items():
            spec = schema["properties"][key]
            allowed = [choice["const"] for choice in spec.get("oneOf", [])]
            assert not allowed or value in allowed, f"{plugin_id}.{key}: {value!r} is not one of {allowed}"
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"


def test_make_lab_uses_the_shipped_settings() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "--LabApp.app_settings_dir=$(CURDIR)/jupyter" in makefile
    assert "--LabApp.news_url=None" in makefile

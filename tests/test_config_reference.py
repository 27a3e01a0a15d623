"""docs/configuration.md is generated from the config schema and must be up to date."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tclsta.config import schema
from tclsta.schemas.reference import render, rows

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "configuration.md"


def test_configuration_page_is_up_to_date() -> None:
    assert PAGE.read_text() == render(), (
        "docs/configuration.md is stale: run python -m tclsta.schemas.reference docs/configuration.md")


def test_every_schema_key_is_on_the_page_with_a_description() -> None:
    text = PAGE.read_text()
    top = schema()["properties"]
    entries = [entry for name, prop in top.items()
               for entry in (rows(prop["properties"], name + ".") if "properties" in prop else rows({name: prop}, ""))]
    assert len(entries) > 100
    for key, _kind, _default, description in entries:
        assert f"| `{key}` |" in text and description.strip(), key


def test_check_mode_fails_on_a_stale_page(tmp_path: Path) -> None:
    page = tmp_path / "configuration.md"
    command = [sys.executable, "-m", "tclsta.schemas.reference"]
    assert subprocess.run([*command, str(page)], cwd=REPO).returncode == 0
    assert subprocess.run([*command, "--check", str(page)], cwd=REPO).returncode == 0
    page.write_text(page.read_text().replace("| `seed` | integer | `0` |", "| `seed` | integer | `1` |"))
    stale = subprocess.run([*command, "--check", str(page)], cwd=REPO, capture_output=True, text=True)
    assert stale.returncode == 1 and "stale" in stale.stderr

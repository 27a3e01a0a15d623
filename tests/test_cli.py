"""The `tclsta` command line: every stage is a subcommand with its own --help."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tclsta.cli import build_parser, main

STAGES = ["synthesize", "manifest", "extract", "frame-index", "verify", "train-stream", "dump-features",
          "train-cln", "solve-awl", "evaluate", "report"]


def test_help_lists_every_stage_in_pipeline_order() -> None:
    text = build_parser().format_help()
    positions = [text.index(f"\n    {stage}") for stage in STAGES]
    assert positions == sorted(positions)


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_has_help(stage: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([stage, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--config" in out and "--set KEY=VALUE" in out


def test_console_script_and_bad_config_value(tmp_path) -> None:
    run = subprocess.run([sys.executable, "-m", "tclsta.cli", "manifest", "--out", str(tmp_path / "m.csv"),
                          "--set", "stream.lr=-1"], capture_output=True, text=True)
    assert run.returncode == 1
    assert "stream.lr: -1 is less than or equal to the minimum of 0" in run.stderr
    assert not (tmp_path / "m.csv").exists()

"""The commands in the documentation work: every fenced shell block of README.md and docs/*.md.

- every `tclsta <command>` exists (`tclsta <command> --help` exits 0);
- every `snakemake …` command plans its DAG (`-n`), on a placeholder dataset where it names one;
- every repository path it names exists.
Pages added to docs/ later are picked up by the glob.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

from placeholder_datasets import make_placeholder

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SHELLS = {"bash", "shell", "sh"}
SEPARATORS = {"&&", "||", ";", "|"}
# Paths starting with one of these name files of the repository (others are the user's: videos/, /data/…).
REPO_ROOTS = ("benchmarks", "docs", "envs", "presets", "tclsta", "tests", "workflow", "tools", "scripts", ".ci",
              "config.yaml", "pyproject.toml", "README.md")
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


def shell_blocks(page: Path) -> list[tuple[int, str]]:
    """(line number, logical line) of every fenced bash/shell/sh block; continuation lines joined."""
    lines, found, in_block, pending = page.read_text().splitlines(), [], False, None
    for number, line in enumerate(lines, 1):
        fence = re.match(r"^\s*```\s*(\S*)", line)
        if fence:
            in_block = not in_block and fence.group(1).lower() in SHELLS
            continue
        if not in_block:
            continue
        if pending:
            start, text = pending
            line, number = text + " " + line.strip(), start
        if line.rstrip().endswith("\\"):
            pending = (number, line.rstrip()[:-1])
            continue
        pending = None
        if line.strip():
            found.append((number, line.strip()))
    return found


def commands() -> list[tuple[str, list[str]]]:
    """(page:line, tokens) of every simple command in the documentation's shell blocks."""
    found = []
    for page in PAGES:
        for number, line in shell_blocks(page):
            command: list[str] = []
            for token in shlex.split(line, comments=True) + [";"]:
                if token in SEPARATORS:
                    if command:
                        found.append((f"{page.relative_to(REPO)}:{number}", command))
                    command = []
                else:
                    command.append(token)
    return found


COMMANDS = commands()


def of_program(name: str) -> list[tuple[str, list[str]]]:
    return [(where, tokens) for where, tokens in COMMANDS if tokens[0] == name]


@lru_cache(maxsize=None)
def help_exit_status(subcommand: str | None) -> tuple[int, str]:
    """Exit status and stderr of `tclsta [subcommand] --help` (one process per subcommand)."""
    args = [subcommand, "--help"] if subcommand else ["--help"]
    proc = subprocess.run([sys.executable, "-c", "import sys; from tclsta.cli import main; sys.exit(main())", *args],
                          capture_output=True, text=True, env=ENV, cwd=REPO)
    return proc.returncode, proc.stderr


def test_the_documentation_has_commands_to_check() -> None:
    assert of_program("tclsta") and of_program("snakemake")
    assert any("--configfile" in tokens for _, tokens in of_program("snakemake"))


@pytest.mark.parametrize("where,tokens", of_program("tclsta"), ids=[w for w, _ in of_program("tclsta")])
def test_tclsta_command_exists(where: str, tokens: list[str]) -> None:
    subcommand = next((t for t in tokens[1:] if not t.startswith("-")), None)
    status, stderr = help_exit_status(subcommand)
    assert status == 0, f"{where}: `tclsta {subcommand} --help` exited {status}: {stderr.strip()[-300:]}"


def repo_paths(tokens: list[str]) -> list[str]:
    """The tokens (and `--opt=value` values) that name a file of the repository."""
    values = [t.split("=", 1)[1] if t.startswith("-") and "=" in t else t for t in tokens]
    return [v for v in values if v.split("/")[0] in REPO_ROOTS and not v.startswith("/")]


def test_every_repository_path_exists() -> None:
    missing = [f"{where}: {path}" for where, tokens in COMMANDS for path in repo_paths(tokens)
               if not (REPO / path).exists()]
    assert not missing, "paths named in the documentation that do not exist:\n" + "\n".join(missing)


def test_path_check_sees_paths() -> None:
    assert repo_paths(["snakemake", "--configfile", "presets/ucf101.yaml", "videos/", "/data/x"]) == ["presets/ucf101.yaml"]
    assert repo_paths(["python", "benchmarks/flow.py", "--json=flow.json"]) == ["benchmarks/flow.py"]


def dry_run_command(tokens: list[str], workdir: Path, datasets: Path) -> list[str]:
    """`tokens` as a dry run in ``workdir``: repository paths made absolute, dataset roots replaced by
    placeholders of the configured format, `-n -q` appended."""
    args, config_file, out = list(tokens[1:]), REPO / "config.yaml", []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("--configfile", "--configfiles", "--workflow-profile", "--profile", "-s", "--snakefile") \
                and i + 1 < len(args) and args[i + 1] != "none":
            path = REPO / args[i + 1]
            if arg.startswith("--configfile"):
                config_file = path
            out += [arg, str(path)]
            i += 2
            continue
        out.append(arg)
        i += 1
    if "--configfile" not in out and "--configfiles" not in out:
        shutil.copy(config_file, workdir / "config.yaml")
    dataset_format = (yaml.safe_load(config_file.read_text()).get("dataset") or {}).get("format", "synthetic")
    for k, arg in enumerate(out):
        if arg.startswith("dataset="):
            value = yaml.safe_load(arg.split("=", 1)[1]) or {}
            if value.get("root"):
                fmt = value.get("format", dataset_format)
                value["root"] = str(make_placeholder(fmt, datasets / fmt))
            out[k] = "dataset=" + json.dumps(value)
    if "--workflow-profile" not in out and "--profile" not in out:
        out += ["--workflow-profile", str(REPO / "workflow" / "profiles" / "default")]
    return [sys.executable, "-m", "snakemake", "-s", str(REPO / "workflow" / "Snakefile"), "-d", str(workdir),
            *out, "-n", "-q"]


def unique_snakemake_commands() -> list[tuple[str, list[str]]]:
    seen, unique = set(), []
    for where, tokens in of_program("snakemake"):
        if tuple(tokens) not in seen and not {"--unlock", "--help", "-h"} & set(tokens):
            seen.add(tuple(tokens))
            unique.append((where, tokens))
    return unique


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("placeholder_datasets")


@pytest.mark.parametrize("where,tokens", unique_snakemake_commands(), ids=[w for w, _ in unique_snakemake_commands()])
def test_snakemake_command_dry_runs(where: str, tokens: list[str], tmp_path: Path, datasets: Path) -> None:
    command = dry_run_command(tokens, tmp_path, datasets)
    proc = subprocess.run(command, capture_output=True, text=True, env=ENV, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, f"{where}: {shlex.join(tokens)} does not dry-run:\n{(proc.stdout + proc.stderr)[-2000:]}"

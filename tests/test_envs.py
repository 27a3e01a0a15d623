"""The conda environments of the rules, checked offline (no conda on CI machines).

`snakemake --sdm conda` builds envs/*.yaml on the user's machine; here we prove statically that
every rule names one of them, that every third-party module imported by the tclsta package is
provided by each env a rule uses, that every dependency is a strict conda MatchSpec, that the
post-deploy script really makes `tclsta` importable, and that `snakemake --lint` is clean.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import tomllib

import yaml
from packaging.requirements import Requirement
from rattler import MatchSpec, Version, VersionSpec

from snakemake_run import REPO, SNAKEFILE, snakemake, write_config

ENV_DIR = REPO / "envs"
ENV_FILES = sorted(ENV_DIR.glob("*.yaml"))

# Import name -> conda-forge package names that provide it (any one is enough).
CONDA_PACKAGES = {
    "torch": {"pytorch", "pytorch-gpu", "pytorch-cpu"},
    "numpy": {"numpy"},
    "scipy": {"scipy"},
    "pandas": {"pandas"},
    "h5py": {"h5py"},
    "cv2": {"opencv", "py-opencv"},
    "yaml": {"pyyaml"},
    "tqdm": {"tqdm"},
    "matplotlib": {"matplotlib-base", "matplotlib"},
    "jsonschema": {"jsonschema"},
    "sklearn": {"scikit-learn"},
    "PIL": {"pillow"},
}
# pyproject.toml dependency -> import name, so a new dependency cannot bypass the envs.
PYPI_TO_IMPORT = {
    "torch": "torch", "numpy": "numpy", "scipy": "scipy", "pandas": "pandas", "h5py": "h5py",
    "opencv-contrib-python-headless": "cv2", "opencv-python": "cv2", "opencv-python-headless": "cv2",
    "opencv-contrib-python": "cv2", "pyyaml": "yaml", "tqdm": "tqdm", "matplotlib": "matplotlib",
    "jsonschema": "jsonschema", "scikit-learn": "sklearn", "pillow": "PIL",
}
# Run the workflow, not inside a rule's job: not needed in the rules' envs.
WORKFLOW_ONLY = {"snakemake"}
# Import name -> the pyproject extra that provides it: user commands only (export --format onnx), no rule's.
EXTRA_ONLY = {"onnx": "onnx"}


def third_party_imports(package: Path) -> dict[str, set[str]]:
    """{top-level module: files importing it} for absolute, non-stdlib imports under `package`."""
    found: dict[str, set[str]] = {}
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != package.name:
                    found.setdefault(top, set()).add(str(path.relative_to(REPO)))
    return found


def env_packages(env_file: Path) -> set[str]:
    """Conda package names listed in an env file."""
    deps = yaml.safe_load(env_file.read_text())["dependencies"]
    return {MatchSpec(d, strict=True).name.normalized for d in deps if isinstance(d, str)}


@pytest.fixture(scope="module")
def rule_envs(tmp_path_factory) -> dict[str, str | None]:
    """{rule name: conda env file} of the workflow as parsed by Snakemake (default config)."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

    workdir = tmp_path_factory.mktemp("lintwd")
    write_config(workdir)
    with SnakemakeApi(OutputSettings()) as api:
        wf = api.workflow(resource_settings=ResourceSettings(cores=1), config_settings=ConfigSettings(),
                          snakefile=SNAKEFILE, workdir=workdir)
        wf.dag()  # parses the Snakefile
        return {rule.name: rule.conda_env for rule in wf._workflow.rules}


def test_env_files_exist():
    assert {p.name for p in ENV_FILES} >= {"tclsta.yaml", "tclsta-gpu.yaml"}


@pytest.mark.parametrize("env_file", ENV_FILES, ids=lambda p: p.name)
def test_env_file_is_valid_and_pinned(env_file):
    env = yaml.safe_load(env_file.read_text())
    assert set(env) <= {"name", "channels", "dependencies"}, env_file
    assert env["channels"][0] == "conda-forge" and "nodefaults" in env["channels"], env_file
    assert "defaults" not in env["channels"], f"{env_file}: Anaconda 'defaults' channel"
    for dep in env["dependencies"]:
        assert isinstance(dep, str), f"{env_file}: only conda specs (pip is done by the post-deploy script)"
        spec = MatchSpec(dep, strict=True)  # raises on anything conda would reject
        assert spec.version is not None and "." in str(spec.version), \
            f"{env_file}: {dep!r} is not pinned to at least major.minor"


@pytest.mark.parametrize("env_file", ENV_FILES, ids=lambda p: p.name)
def test_env_provides_every_third_party_import(env_file):
    """The rules run `tclsta <command>`, whose CLI imports every command module: the whole package."""
    provided = env_packages(env_file)
    imports = third_party_imports(REPO / "tclsta")
    assert "torch" in imports and "numpy" in imports, "import scan found nothing: wrong package path?"
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for module, files in sorted(imports.items()):
        if module in WORKFLOW_ONLY:
            continue
        if module in EXTRA_ONLY:
            names = {Requirement(r).name for r in extras.get(EXTRA_ONLY[module], [])}
            assert module in names, f"{module} (imported in {sorted(files)}) is in no pyproject extra"
            continue
        assert module in CONDA_PACKAGES, f"{module} (imported in {sorted(files)}) has no conda mapping here"
        assert CONDA_PACKAGES[module] & provided, f"{env_file.name} lacks {module} (imported in {sorted(files)})"


# The oldest torch the code runs on: torch._dynamo.config.recompile_limit (tclsta/flow/tvl1.py)
# appeared in 2.7 (cache_size_limit before). bf16 LSTMs under CUDA autocast fail before 2.3;
# the LSTM runs in float32 anyway (models/attention.py).
TORCH_FLOOR, BELOW_FLOOR = "2.7.0", "2.6.0"


def test_torch_floor_is_what_the_code_needs():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    (torch_req,) = [Requirement(d) for d in deps if Requirement(d).name == "torch"]
    assert torch_req.specifier.contains(TORCH_FLOOR) and not torch_req.specifier.contains(BELOW_FLOOR), torch_req
    for env_file in ENV_FILES:
        deps = yaml.safe_load(env_file.read_text())["dependencies"]
        specs = [MatchSpec(d, strict=True) for d in deps if isinstance(d, str)]
        (torch_spec,) = [s for s in specs if s.name.normalized in CONDA_PACKAGES["torch"]]
        version = VersionSpec(str(torch_spec.version))
        assert version.matches(Version(TORCH_FLOOR)) and not version.matches(Version(BELOW_FLOOR)), \
            f"{env_file.name}: {torch_spec} admits a torch the code cannot run on"


def test_every_pyproject_dependency_is_mapped():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    for dep in deps:
        name = Requirement(dep).name.lower()
        if name in WORKFLOW_ONLY:
            continue
        assert name in PYPI_TO_IMPORT, f"pyproject dependency {name!r}: add its import name and conda package"
        module = PYPI_TO_IMPORT[name]
        for env_file in ENV_FILES:
            assert CONDA_PACKAGES[module] & env_packages(env_file), f"{env_file.name} lacks {name}"


def test_every_rule_uses_a_project_env(rule_envs):
    gpu_env = str(ENV_DIR / "tclsta-gpu.yaml")
    for rule, env in rule_envs.items():
        if rule == "all":
            continue
        assert env is not None, f"rule {rule} has no conda: directive"
        assert Path(str(env)).resolve().parent == ENV_DIR, f"rule {rule}: {env} is not under envs/"
        assert Path(str(env)).exists(), f"rule {rule}: {env} does not exist"
    assert gpu_env in {str(e) for e in rule_envs.values()}, "no rule uses the GPU env"


def test_post_deploy_installs_the_package(tmp_path):
    """Run the post-deploy script as Snakemake would (inside the env): `tclsta` must then work.

    The env here is a fresh venv (pip + setuptools only); the third-party packages come from the
    test interpreter via PYTHONPATH, standing in for the conda packages checked above.
    """
    for env_file in ENV_FILES:
        assert env_file.with_suffix(".post-deploy.sh").resolve().is_file(), f"{env_file}: no post-deploy script"
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    deps = [p for p in sys.path if p.endswith("site-packages")]
    run_env = {**os.environ, "PATH": f"{env_dir / 'bin'}:{os.environ['PATH']}", "TCLSTA_REPO": str(REPO),
               "PYTHONPATH": os.pathsep.join(deps), "PIP_NO_INDEX": "1"}
    run_env.pop("VIRTUAL_ENV", None)
    script = ENV_DIR / "tclsta.post-deploy.sh"
    proc = subprocess.run(["bash", str(script)], env=run_env, cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cli = subprocess.run([str(env_dir / "bin" / "tclsta"), "--help"], env=run_env, cwd=tmp_path,
                         capture_output=True, text=True)
    assert cli.returncode == 0 and "synthesize" in cli.stdout, cli.stdout + cli.stderr


def test_snakemake_lint_is_clean(tmp_path):
    write_config(tmp_path)
    proc = snakemake(tmp_path, "--lint", check=False)
    assert proc.returncode == 0 and "Lints for" not in proc.stdout, proc.stdout

"""The model bundle: everything inference needs from a finished run, in one folder.

``<output_dir>/model/split{N}/`` holds both streams' checkpoints in the CLN's attention mode,
the CLNs (held-out: with its input standardisation in the checkpoint; paper), the AWL weights
with their ``fit.json`` (temperatures), ``classes.txt`` (class names in label order),
``settings.json`` (the extract, flow, features and model settings the run used) and, written
last and atomically, ``bundle.json``: the format version, the SHA-256 of every other file and
the test metrics of the ``metrics.json`` rows the bundle can serve. :func:`load_bundle` checks
all of it; every problem is one line naming the file.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tclsta import paths
from tclsta.atomic import atomic_directory, atomic_path, atomic_write_text
from tclsta.errors import TclstaError
from tclsta.evaluation.evaluate import ATTENTION_SUFFIX, STREAM_LABEL, two_stream_name
from tclsta.hashing import sha256_file

FORMAT_VERSION = 1
MANIFEST_NAME = "bundle.json"
SETTINGS_SECTIONS = ("extract", "flow", "features", "model")
STREAM_FILES = {"rgb": "rgb.pt", "flow": "flow.pt"}
CLN_FILES = {"heldout": "cln_heldout.pt", "paper": "cln_paper.pt"}
AWL_SOURCES = ("stream_heldout", "cln_heldout", "cln")


class BundleError(TclstaError):
    """A model bundle is missing a file, damaged, or of a newer format."""


def bundle_dir(out: str | Path, split: int) -> Path:
    """``{OUT}/model/split{split}``."""
    return Path(out) / "model" / f"split{split}"


def awl_files(source: str) -> tuple[str, str]:
    """The bundle's names of one AWL source's weights CSV and fit record."""
    return f"awl_{source}.csv", f"awl_{source}.fit.json"


def method_rows(attention: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Each fusion ``tclsta predict`` offers: the ``metrics.json`` row it reproduces and the bundle files it reads."""
    streams = (STREAM_FILES["rgb"], STREAM_FILES["flow"])
    return {
        "cln_heldout": (two_stream_name(attention, "CLN [held-out]"), (*streams, CLN_FILES["heldout"])),
        "awl_heldout": (two_stream_name(attention, "AWL [held-out]"), (*streams, *awl_files("stream_heldout"))),
        "cln_awl_heldout": (two_stream_name(attention, "CLN + AWL [held-out]"),
                            (*streams, CLN_FILES["heldout"], *awl_files("cln_heldout"))),
        "paper": (two_stream_name(attention, "CLN + AWL"), (*streams, CLN_FILES["paper"], *awl_files("cln"))),
        "late": (two_stream_name(attention), streams),
        "rgb": (f"{STREAM_LABEL['rgb']}{ATTENTION_SUFFIX[attention]}", streams[:1]),
        "flow": (f"{STREAM_LABEL['flow']}{ATTENTION_SUFFIX[attention]}", streams[1:]),
    }


def _sources(out: Path, split: int, attention: str) -> dict[str, Path]:
    """Bundle file name -> the run's file it is a copy of."""
    files = {name: paths.stream_checkpoint(out, split, stream, attention) for stream, name in STREAM_FILES.items()}
    files.update({name: paths.cln_checkpoint(out, split, variant) for variant, name in CLN_FILES.items()})
    for source in AWL_SOURCES:
        weights = paths.awl_weights(out, split, source)
        csv_name, fit_name = awl_files(source)
        files[csv_name], files[fit_name] = weights, weights.with_name("fit.json")
    return files


def write_bundle(out: str | Path, split: int, config: dict[str, Any], target: str | Path | None = None) -> Path:
    """Copy what inference needs from the finished run ``out`` into ``target`` (default :func:`bundle_dir`).

    The folder is built under a temporary name and renamed when complete; ``bundle.json``
    is its last file. Raises :class:`BundleError` naming a run file that is missing.
    """
    out = Path(out)
    target = Path(target) if target is not None else bundle_dir(out, split)
    attention = config["cln"]["attention"]
    metrics_path = paths.metrics(out)
    try:
        metrics = json.loads(metrics_path.read_text())
    except (OSError, ValueError) as err:
        raise BundleError(f"{metrics_path}: cannot read the run's metrics ({err}); run evaluate first") from err
    run_files = _sources(out, split, attention)
    for name in STREAM_FILES.values():
        if not run_files[name].is_file():
            raise BundleError(f"{run_files[name]}: stream checkpoint not found (run the pipeline first)")
    sources = {name: path for name, path in run_files.items() if path.is_file()}
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_directory(target) as tmp:
        for name, path in sources.items():
            shutil.copyfile(path, tmp / name)
        atomic_write_text(tmp / "classes.txt", "".join(f"{c}\n" for c in metrics["class_names"]))
        settings = {section: config[section] for section in SETTINGS_SECTIONS}
        settings.update(attention=attention, split=split, dataset=config["dataset"]["format"])
        atomic_write_text(tmp / "settings.json", json.dumps(settings, indent=1, sort_keys=True) + "\n")
        rows = {}
        for fusion, (row, needs) in method_rows(attention).items():
            if all((tmp / n).is_file() for n in needs) and row in metrics["rows"]:
                rows[fusion] = {"row": row, metrics["metric"]: metrics["rows"][row]["splits"][str(split)]}
        files = sorted(p.name for p in tmp.iterdir())
        record = {"format_version": FORMAT_VERSION, "split": split, "metric": metrics["metric"], "rows": rows,
                  "files": {name: sha256_file(tmp / name) for name in files}}
        with atomic_path(tmp / MANIFEST_NAME) as manifest:
            manifest.write_text(json.dumps(record, indent=1) + "\n")
    return target


@dataclass
class Bundle:
    """A checked bundle: its folder, ``bundle.json``, ``settings.json`` and the class names."""

    folder: Path
    record: dict[str, Any]
    settings: dict[str, Any]
    class_names: list[str]

    def path(self, name: str) -> Path:
        """A file of the bundle (checked to be listed in ``bundle.json``)."""
        if name not in self.record["files"]:
            raise BundleError(f"{self.folder / name}: not in this bundle (bundle.json lists no such file)")
        return self.folder / name

    def checkpoint(self, name: str) -> dict[str, Any]:
        """A checkpoint of the bundle, ``torch.load(weights_only=True)``; one line naming it if it is none."""
        from tclsta.training.checkpoint import load_checkpoint

        return load_checkpoint(self.path(name))

    def rows(self) -> dict[str, dict[str, Any]]:
        """The fusions this bundle serves -> their ``metrics.json`` row and test value."""
        return self.record["rows"]

    def best_heldout(self) -> str:
        """The served ``[held-out]`` fusion with the best test value (``paper`` if none)."""
        metric = self.record["metric"]
        heldout = {k: v[metric] for k, v in self.rows().items() if "[held-out]" in v["row"]}
        return max(heldout, key=lambda k: heldout[k]) if heldout else "paper"


def load_bundle(folder: str | Path) -> Bundle:
    """Open and check a bundle: format version and every file's SHA-256 (each problem: one line naming the file)."""
    folder = Path(folder)
    manifest = folder / MANIFEST_NAME
    if not manifest.is_file():
        raise BundleError(f"{manifest}: not found ({folder} is not a complete model bundle; run tclsta bundle)")
    try:
        record = json.loads(manifest.read_text())
        version, files = int(record["format_version"]), dict(record["files"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise BundleError(f"{manifest}: not a readable bundle record ({err})") from err
    if version > FORMAT_VERSION:
        raise BundleError(f"{manifest}: bundle format {version} is newer than this tclsta reads "
                          f"({FORMAT_VERSION}); upgrade tclsta")
    for name, digest in files.items():
        path = folder / name
        if not path.is_file():
            raise BundleError(f"{path}: missing from the model bundle")
        if sha256_file(path) != digest:
            raise BundleError(f"{path}: SHA-256 differs from bundle.json (file changed or damaged)")
    settings = json.loads((folder / "settings.json").read_text())
    names = (folder / "classes.txt").read_text().splitlines()
    return Bundle(folder, record, settings, names)

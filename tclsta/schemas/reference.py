"""Generate ``docs/configuration.md``, every config key with its type, default and description.

    python -m tclsta.schemas.reference docs/configuration.md   # (re)write the page
    python -m tclsta.schemas.reference --check docs/configuration.md   # exit 1 if it is stale

The page is derived from ``tclsta/schemas/config.schema.yaml`` only; edit the schema, not the page.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Iterator

import yaml

from tclsta.atomic import atomic_write_text
from tclsta.config import schema

HEADER = """# Configuration reference

Generated from [`tclsta/schemas/config.schema.yaml`](../tclsta/schemas/config.schema.yaml) by
`python -m tclsta.schemas.reference docs/configuration.md`; do not edit by hand (a test fails when
this page is stale). `config.yaml` sets the default run and `presets/*.yaml` the paper's settings;
a key left out takes the default below. On the Snakemake command line nested keys are given as
YAML mappings (`--config 'stream={lr: 0.01}'`); `tclsta` commands take `--set stream.lr=0.01`.
"""

BOUNDS = (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<"))


def flow_yaml(value: Any) -> str:
    """A value as one line of YAML flow style (`null`, `[1, 2]`, `{rgb: 3}`)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def type_text(prop: dict[str, Any]) -> str:
    """The type of one property with its allowed values or bounds, e.g. `integer ≥ 1`."""
    if "oneOf" in prop or "anyOf" in prop:
        return " or ".join(type_text(p) for p in prop.get("oneOf", prop.get("anyOf")))
    if "enum" in prop:
        return "one of " + ", ".join(f"`{flow_yaml(v)}`" for v in prop["enum"])
    kinds = prop.get("type", "any")
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    if "array" in kinds and "items" in prop:
        kinds[kinds.index("array")] = f"list of ({type_text(prop['items'])})"
    text = " or ".join("mapping" if k == "object" else k for k in kinds)
    bounds = [f"{sign} {flow_yaml(prop[key])}" for key, sign in BOUNDS if key in prop]
    return " ".join([text, *bounds])


def cell(text: str) -> str:
    """Text fit for one Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def rows(properties: dict[str, Any], prefix: str) -> Iterator[tuple[str, str, str, str]]:
    """(key, type, default, description) for every property below ``prefix``, depth first."""
    for name, prop in properties.items():
        key = f"{prefix}{name}"
        default = f"`{flow_yaml(prop['default'])}`" if "default" in prop else "–"
        nested = prop.get("properties")
        if nested:
            if prop.get("description"):
                yield key, "mapping", "", prop["description"]
            yield from rows(nested, key + ".")
        else:
            yield key, type_text(prop), default, prop.get("description", "")


def render(config_schema: dict[str, Any] | None = None) -> str:
    """The whole reference page for ``config_schema`` (default: the package's schema)."""
    config_schema = config_schema or schema()
    top = config_schema["properties"]
    scalars = {k: v for k, v in top.items() if "properties" not in v}
    sections = {k: v for k, v in top.items() if "properties" in v}
    parts = [HEADER, "## Top-level keys\n", table(rows(scalars, ""))]
    for name, prop in sections.items():
        parts.append(f"## `{name}`\n")
        if prop.get("description"):
            parts.append(cell(prop["description"]) + "\n")
        parts.append(table(rows(prop["properties"], name + ".")))
    return "\n".join(parts)


def table(entries: Iterator[tuple[str, str, str, str]]) -> str:
    """A Markdown table of (key, type, default, description) rows."""
    lines = ["| key | type | default | description |", "|---|---|---|---|"]
    lines += [f"| `{key}` | {cell(kind)} | {cell(default)} | {cell(text)} |" for key, kind, default, text in entries]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the page, or with ``--check`` report whether it is up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path, help="the Markdown file to write (docs/configuration.md)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the page differs")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.page.read_text() if args.page.is_file() else ""
        if current != text:
            print(f"{args.page}: stale; regenerate with python -m tclsta.schemas.reference {args.page}",
                  file=sys.stderr)
            return 1
        return 0
    atomic_write_text(args.page, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Configuration: load YAML, apply overrides, validate against the schema and fill defaults.

The schema (``tclsta/schemas/config.schema.yaml``, also ``workflow/schemas/``) is the single
source of defaults for both the Snakemake workflow and the ``tclsta`` commands.
"""

from __future__ import annotations

import copy
import hashlib
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tclsta.errors import ConfigError


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The configuration JSON schema (as loaded from the package)."""
    text = resources.files("tclsta").joinpath("schemas/config.schema.yaml").read_text()
    return yaml.safe_load(text)


def _extend_with_defaults(validator_class: type) -> type:
    """A validator that fills each missing property with its schema ``default``."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, subschema):
        if isinstance(instance, dict):
            for name, prop in properties.items():
                if "default" in prop and name not in instance:
                    instance[name] = copy.deepcopy(prop["default"])
        yield from validate_properties(validator, properties, instance, subschema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_DefaultingValidator = _extend_with_defaults(jsonschema.Draft7Validator)


YAML_NULLS = ("null", "Null", "NULL", "~")


def _coerce_strings(value: Any, subschema: dict[str, Any]) -> Any:
    """Parse strings (as YAML) where the schema expects no string.

    ``snakemake --config 'stream={lr: 0.01}'`` hands every scalar over as a string.
    """
    if isinstance(value, dict):
        properties = subschema.get("properties", {})
        return {k: _coerce_strings(v, properties.get(k, {})) for k, v in value.items()}
    if isinstance(value, list):
        return [_coerce_strings(v, subschema.get("items", {})) for v in value]
    if not isinstance(value, str):
        return value
    if value.strip() in YAML_NULLS and "null" in subschema.get("type", []):
        return None  # `--config 'dataset={root: null}'` means no root, not a folder named "null"
    strings = [t for t in subschema.get("oneOf", [subschema]) if "string" in t.get("type", [])]
    if strings and not any("enum" in t and value not in t["enum"] for t in strings):
        return value
    if strings or subschema.get("type"):
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            return value
    return value


def validate(config: dict[str, Any], source: str = "config") -> dict[str, Any]:
    """Return a validated copy of ``config`` with every default filled in.

    Raises :class:`ConfigError` naming the key, the bad value and what was expected.
    """
    filled = _coerce_strings(copy.deepcopy(config) if config else {}, schema())
    errors = sorted(_DefaultingValidator(schema()).iter_errors(filled), key=lambda e: list(e.path))
    if errors:
        lines = []
        for error in errors:
            key = ".".join(str(p) for p in error.path) or "(top level)"
            lines.append(f"  {key}: {error.message}")
        raise ConfigError(f"{source}: invalid configuration\n" + "\n".join(lines))
    # A second pass fills defaults of objects that were themselves just defaulted.
    _DefaultingValidator(schema()).validate(filled)
    if not filled["output_dir"].strip():
        raise ConfigError(f"{source}: output_dir is empty; name a folder (e.g. results/run1), '.' for here")
    return filled


def workflow_path_problems(config: dict[str, Any]) -> list[str]:
    """Config paths Snakemake cannot use: ``{`` or ``}`` would be read as wildcards in its file patterns."""
    paths = {"output_dir": config["output_dir"], "dataset.root": config["dataset"]["root"]}
    return [f"{key}: {value!r} contains '{{' or '}}', which Snakemake reads as a wildcard; rename or link the folder"
            for key, value in paths.items() if value is not None and ("{" in value or "}" in value)]


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Recursively merge ``update`` into a copy of ``base`` (dicts merge, other values replace)."""
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def parse_override(text: str) -> dict[str, Any]:
    """Turn ``a.b.c=value`` into ``{"a": {"b": {"c": value}}}`` (value parsed as YAML)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r}: expected KEY=VALUE, e.g. stream.lr=0.01")
    key, _, raw = text.partition("=")
    value: Any = yaml.safe_load(raw) if raw != "" else None
    for part in reversed(key.strip().split(".")):
        if not part:
            raise ConfigError(f"override {text!r}: empty key component")
        value = {part: value}
    return value


def load(
    path: str | Path | None = None,
    json_text: str | None = None,
    overrides: list[str] | tuple[str, ...] = (),
) -> dict[str, Any]:
    """Load a configuration: YAML file, then a JSON snippet, then ``KEY=VALUE`` overrides.

    The result is validated and has every default filled in.
    """
    config: dict[str, Any] = {}
    source = "config"
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        try:
            config = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: not valid YAML: {err}") from err
        if not isinstance(config, dict):
            raise ConfigError(f"{path}: the top level must be a mapping")
        source = str(path)
    if json_text:
        try:
            snippet = json.loads(json_text)
        except json.JSONDecodeError as err:
            raise ConfigError(f"--config-json: not valid JSON: {err}") from err
        if not isinstance(snippet, dict):
            raise ConfigError(f"--config-json: expected a JSON object ({{\"section\": {{...}}}}), got {json_text[:60]!r}")
        config = deep_merge(config, snippet)
    for text in overrides:
        config = deep_merge(config, parse_override(text))
    return validate(config, source=source)


def digest(value: Any) -> str:
    """A short, stable hash of a JSON-serialisable value (used to tag outputs with their settings)."""
    blob = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]

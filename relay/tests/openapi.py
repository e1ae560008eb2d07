"""Validate relay output against OpenAI's published OpenAPI schemas.

The 3 MB YAML is parsed once and cached as a pickle under `.pytest_cache/` (keyed by
the file's size and mtime), so later runs load it in milliseconds. OpenAPI 3.0's
`nullable: true`, still used in places, is rewritten to JSON Schema's `null` type.
Spec location: $OPENAI_OPENAPI_SPEC, else `../shared/reference/openai-openapi.yaml`
relative to the repository root.
"""

from __future__ import annotations

import os
import pickle
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

REPO = Path(__file__).resolve().parents[2]
SPEC_URI = "urn:openai-openapi"


def spec_path() -> Path:
    """Where the spec file is; raises FileNotFoundError if absent."""
    candidates = [os.environ.get("OPENAI_OPENAPI_SPEC", ""),
                  REPO.parent / "shared" / "reference" / "openai-openapi.yaml"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise FileNotFoundError("openai-openapi.yaml not found; set OPENAI_OPENAPI_SPEC")


class _NoDatesLoader(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):
    """Safe loader that keeps timestamps as strings (JSON has no date type)."""


_NoDatesLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _NoDatesLoader.yaml_implicit_resolvers.copy().items()
}


def _nullable(node: Any) -> Any:
    """Rewrite OpenAPI 3.0 `nullable: true` into JSON Schema 2020-12, recursively."""
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable(v) for k, v in node.items()}
    if out.pop("nullable", False):
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        if "$ref" in out or "allOf" in out or "oneOf" in out or "anyOf" in out:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@cache
def load_spec() -> dict[str, Any]:
    """The parsed spec (components only matter), from the pickle cache when fresh."""
    path = spec_path()
    stat = path.stat()
    name = f"openai-openapi-{stat.st_size}-{int(stat.st_mtime)}.pickle"
    cache_file = REPO / ".pytest_cache" / name
    if cache_file.is_file():
        return pickle.loads(cache_file.read_bytes())  # noqa: S301 - our own cache file
    with path.open("rb") as fh:
        spec = yaml.load(fh, Loader=_NoDatesLoader)  # noqa: S506 - safe loader subclass
    spec = {"components": _nullable(spec["components"])}
    cache_file.parent.mkdir(exist_ok=True)
    cache_file.write_bytes(pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL))
    return spec


@cache
def validator(schema_name: str) -> Draft202012Validator:
    """A validator for `#/components/schemas/<schema_name>`."""
    resource = Resource.from_contents(load_spec(), default_specification=DRAFT202012)
    registry = Registry().with_resource(SPEC_URI, resource)
    return Draft202012Validator({"$ref": f"{SPEC_URI}#/components/schemas/{schema_name}"},
                                registry=registry)


def assert_matches(schema_name: str, instance: Any) -> None:
    """Fail with every schema violation listed if `instance` does not match."""
    errors = sorted(validator(schema_name).iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, f"{schema_name} violations:\n" + "\n".join(
        f"- {'/'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in errors[:10])

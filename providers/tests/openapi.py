"""Validate relay output against OpenAI's published OpenAPI schemas.

The repository carries the schemas the tests use, copied from OpenAI's spec
(`providers/tests/data/openai-openapi-schemas.json`; source and licence beside it), so a fresh
clone needs nothing outside itself. OpenAPI 3.0's `nullable: true`, still used in places,
is rewritten to JSON Schema's `null` type on load.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import orjson
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMAS_FILE = Path(__file__).resolve().parent / "data" / "openai-openapi-schemas.json"
SPEC_URI = "urn:openai-openapi"


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
    """The shipped schemas (components only matter), nullable rewritten."""
    spec = orjson.loads(SCHEMAS_FILE.read_bytes())
    return {"components": _nullable(spec["components"])}


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

"""Rebuild providers/tests/data/openai-openapi-schemas.json from OpenAI's full OpenAPI file.

The tests validate relay output against OpenAI's own schemas. The full spec is 3 MB; the
repository carries only the schemas the tests name (ROOTS) and everything they reference,
unmodified, so a fresh clone needs nothing beside it.

    .venv/bin/python scripts/extract_openai_schemas.py path/to/openapi.yaml

Source, commit and licence of the spec: providers/tests/data/openai-openapi-schemas.SOURCE.md
(update its commit line when refreshing).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import yaml

OUT = Path(__file__).resolve().parents[1] / "providers" / "tests" / "data"
OUT_FILE = OUT / "openai-openapi-schemas.json"
ROOTS = (
    "CreateChatCompletionRequest", "CreateChatCompletionResponse",
    "CreateChatCompletionStreamResponse", "CreateCompletionResponse",
    "CreateEmbeddingResponse", "CreateModerationResponse", "ErrorResponse", "ImagesResponse",
    "ListModelsResponse", "Model", "CreateResponse", "Response", "ResponseStreamEvent",
)


class _NoDatesLoader(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):
    """Safe loader that keeps timestamps as strings (JSON has no date type)."""


_NoDatesLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _NoDatesLoader.yaml_implicit_resolvers.copy().items()
}


def _refs(node: Any):
    """Every local `$ref` target below `node`, as (section, name)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/"):
            section, name = ref.removeprefix("#/components/").split("/", 1)
            yield section, name
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def closure(components: dict[str, dict], roots: tuple[str, ...]) -> dict[str, dict]:
    """The `roots` schemas and everything they reference, transitively."""
    kept: dict[str, dict] = {}
    todo = [("schemas", name) for name in roots]
    while todo:
        section, name = todo.pop()
        if name in kept.setdefault(section, {}):
            continue
        node = components[section][name]
        kept[section][name] = node
        todo.extend(_refs(node))
    return {section: dict(sorted(items.items())) for section, items in sorted(kept.items())}


def main(spec_file: str) -> None:
    raw = Path(spec_file).read_bytes()
    spec = yaml.load(raw, Loader=_NoDatesLoader)  # noqa: S506 - safe loader subclass
    subset = {"openapi": spec["openapi"], "info": spec["info"],
              "components": closure(spec["components"], ROOTS)}
    OUT.mkdir(parents=True, exist_ok=True)
    OUT_FILE.write_text(json.dumps(subset, indent=1, ensure_ascii=False) + "\n")
    count = sum(len(v) for v in subset["components"].values())
    print(f"{OUT_FILE}: {count} components from {spec_file} "
          f"(sha256 {hashlib.sha256(raw).hexdigest()})")


if __name__ == "__main__":
    main(sys.argv[1])

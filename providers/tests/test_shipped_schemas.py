"""The tests need nothing outside the repository: OpenAI's schemas that they validate
against ship in providers/tests/data, and no file reads the workspace's ../shared folder."""

import re
import subprocess
from pathlib import Path

from providers.tests.openapi import SCHEMAS_FILE, load_spec, validator

REPO = Path(__file__).resolve().parents[2]
SCHEMA_NAME = re.compile(r'"((?:Create|List)?[A-Z][A-Za-z]+(?:Response|Request|Event)|Model)"')


def _tracked(*patterns: str) -> list[Path]:
    out = subprocess.run(["git", "ls-files", *patterns], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout
    return [REPO / line for line in out.splitlines()]


SHARED = re.compile(r"\.\./shared|[\"'/]shared[\"']?\s*/\s*[\"']?reference")


def test_no_tracked_file_reads_the_shared_folder_beside_the_repository():
    files = _tracked("*.py", "*.sh", "*.toml", "Makefile", ".ci/*", "*.cfg", "*.ini")
    offenders = [
        str(path.relative_to(REPO)) for path in files
        if path.is_file() and path != Path(__file__).resolve()
        and SHARED.search(path.read_text(errors="replace"))
    ]
    assert offenders == []


def test_every_schema_the_tests_name_is_shipped_and_compiles():
    shipped = load_spec()["components"]["schemas"]
    named = set()
    for path in [*(REPO / "providers" / "tests").glob("*.py"),
                 *(REPO / "relay" / "tests").glob("*.py")]:
        for line in path.read_text().splitlines():
            if "assert_matches" in line or "Response\")" in line or "Response\")," in line:
                named.update(SCHEMA_NAME.findall(line))
    assert {"CreateChatCompletionResponse", "ErrorResponse", "ImagesResponse"} <= named
    missing = sorted(name for name in named if name not in shipped)
    assert missing == [], f"run scripts/extract_openai_schemas.py with these in ROOTS: {missing}"
    for name in named:
        validator(name).check_schema(validator(name).schema)
    assert SCHEMAS_FILE.stat().st_size < 1_000_000  # a subset, not the 3 MB spec

"""The providers package stands on its own: no Django, no app of this project, and the one
`RelayError` everyone imports from `providers.errors`."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "providers"
APPS = ("django", "rest_framework", "billing", "channels_app", "core", "oneproxy", "relay")


def _modules() -> list[str]:
    """Every importable module of the package, tests excluded."""
    return sorted(
        ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        for path in PACKAGE.rglob("*.py") if "tests" not in path.relative_to(PACKAGE).parts
    )


def test_every_providers_module_imports_without_django_or_any_app():
    script = (
        "import importlib, sys\n"
        f"for name in {_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "importlib.import_module('providers.registry').check_registry()\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({APPS!r})))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def _tracked_python() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "*.py"], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout
    return [REPO / line for line in out.splitlines() if (REPO / line).is_file()]


def test_relay_error_is_imported_from_providers_errors_and_nowhere_else():
    offenders = []
    for path in _tracked_python():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (isinstance(node, ast.ImportFrom) and node.module != "providers.errors"
                    and any(alias.name == "RelayError" for alias in node.names)):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno} ({node.module})")
            elif isinstance(node, ast.Attribute) and node.attr == "RelayError":
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno} (attribute)")
    assert offenders == []


def _exported(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.List | ast.Tuple)
                and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)):
            names.update(e.value for e in node.value.elts if isinstance(e, ast.Constant))
    return names


def test_no_module_but_providers_errors_exports_relay_error():
    exporters = [
        str(path.relative_to(REPO)) for path in _tracked_python()
        if "RelayError" in _exported(ast.parse(path.read_text(), str(path)))
    ]
    assert exporters == []

"""Role predicates without models, and the ground floor importing no app."""

import ast
from pathlib import Path
from types import SimpleNamespace

from core import roles

APPS = ("billing", "channels_app", "relay", "oneproxy", "providers")


def actor(role: str, *, active: bool = True) -> SimpleNamespace:
    return SimpleNamespace(role=role, is_authenticated=True, is_active=active)


def test_admins_and_root_are_operators_and_only_root_is_root():
    assert [roles.is_operator(actor(r)) for r in ("user", "admin", "root")] == [False, True, True]
    assert [roles.is_root(actor(r)) for r in ("user", "admin", "root")] == [False, False, True]


def test_an_inactive_or_missing_actor_is_no_operator():
    assert not roles.is_operator(actor("root", active=False))
    assert not roles.is_operator(None)


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_core_imports_no_app():
    core = Path(roles.__file__).parent
    offenders = {
        f"{path.relative_to(core)}: {name}"
        for path in core.rglob("*.py")
        for name in _imported_modules(path)
        if name.split(".")[0] in APPS
    }
    assert not offenders

"""channels_app sits below the relay: no module of it, tests included, imports the relay
(the relay tells it things through core.signals instead)."""

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[1]


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_no_module_of_channels_app_imports_the_relay():
    offenders = {
        str(path.relative_to(APP.parent)): sorted(
            name for name in _imported_modules(path)
            if name == "relay" or name.startswith("relay."))
        for path in sorted(APP.rglob("*.py"))
    }
    assert {path: names for path, names in offenders.items() if names} == {}

"""Imports point one way: cli -> flows -> engine -> transforms -> connectors -> recovery.

Every module of the project is parsed with ``ast`` (nothing is imported, so a module that
would fail to import is still checked); every ``import`` and ``from ... import`` counts,
including ones inside functions and ``TYPE_CHECKING`` blocks. The simulator is an independent
model of Zoho and imports nothing of ours; only the engine and above may embed it (the demo
and ``--simulator`` serve it). The library layers use no Prefect, rich or typer.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Our packages, lowest first: a package may import only itself and the ones before it.
LAYERS = ("recovery", "connectors", "transforms", "engine", "flows", "cli")
#: Third-party packages of the orchestration and console faces.
FACES = ("prefect", "rich", "typer")
#: The layers that must run without the faces.
LIBRARY = ("recovery", "connectors", "transforms", "engine")
OURS = (*LAYERS, "simulator", "bench")


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def imported_roots(path: Path, package: str) -> set[str]:
    """The top-level names a module imports (relative imports name its own package)."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            roots.add(package if node.level else (node.module or "").split(".")[0])
    return roots


def violations(package: str, path: Path) -> list[str]:
    """Why ``path`` (a module of ``package``) imports against the grain, one line each."""
    roots = imported_roots(path, package)
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    found: list[str] = []
    if package == "simulator":
        ours = sorted(roots & set(OURS) - {package})
        return [f"{where} imports {name}" for name in ours]
    rank = LAYERS.index(package)
    for name in sorted(roots):
        if name in LAYERS and LAYERS.index(name) > rank:
            found.append(f"{where} imports {name}, a layer above {package}")
        elif name == "bench" or (name == "simulator" and package in LIBRARY[:3]):
            found.append(f"{where} imports {name}, which is not a library layer")
        elif package in LIBRARY and name in FACES:
            found.append(f"{where} imports {name}; {package} must run without it")
    return found


@pytest.mark.parametrize("package", [*LAYERS, "simulator"])
def test_imports_point_down(package: str) -> None:
    paths = modules(package)
    assert paths, f"no modules found under {package}/"
    bad = [line for path in paths for line in violations(package, path)]
    assert bad == []


def test_the_checker_sees_imports_against_the_grain(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import prefect\n\ndef f() -> None:\n    from engine import errors\n")
    assert violations("connectors", probe) == [
        "probe.py imports engine, a layer above connectors",
        "probe.py imports prefect; connectors must run without it",
    ]
    probe.write_text("from connectors.errors import ZohoError\n")
    assert violations("simulator", probe) == ["probe.py imports connectors"]
    assert violations("engine", probe) == []

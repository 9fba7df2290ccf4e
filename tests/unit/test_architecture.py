"""The import graph of ``server/``: arrows point inward, and there is no cycle.

Adapters (socket, HTTP, bus) call the service, the service calls the core and storage; the core imports
nothing of ours but the core, and storage nothing but the core and storage.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

SERVER = Path(__file__).resolve().parents[2] / "server"


def module_name(path: Path) -> str:
    parts = path.relative_to(SERVER.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Each server module and the server modules it imports (at run time or for type checking)."""
    graph: dict[str, set[str]] = {}
    for path in SERVER.rglob("*.py"):
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("server"):
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names if alias.name.startswith("server")}
        graph[module_name(path)] = found - {module_name(path)}
    return graph


def test_the_core_imports_only_the_core() -> None:
    for module, imported in imports().items():
        if module.startswith("server.core"):
            assert {name for name in imported if not name.startswith("server.core")} == set(), module


def test_storage_imports_only_storage_and_the_core() -> None:
    for module, imported in imports().items():
        if module.startswith("server.storage"):
            outside = {name for name in imported if not name.startswith(("server.storage", "server.core"))}
            assert outside == set(), module


def test_the_service_knows_no_adapter_and_no_wire_format() -> None:
    graph = imports()
    adapters = {"server.websocket", "server.http", "server.openapi", "server.bus", "server.messages", "server.app"}
    for module in ("server.service", "server.group_commit", "server.layouts", "server.keyed_lock"):
        assert graph[module] & adapters == set(), module


def test_there_is_no_import_cycle() -> None:
    graph = {module: {name for name in imported if name != "server"} for module, imported in imports().items()}
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as cycle:
        raise AssertionError(f"import cycle: {' -> '.join(cycle.args[1])}") from None

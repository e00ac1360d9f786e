"""Import rules between the layers, checked on the source with ``ast`` (nothing is imported).

* ``openucwa.core`` is pure: it imports nothing of openucwa outside core and no I/O library.
* ``openucwa.server`` speaks HTTP only: never a store backend, Redis or SQLAlchemy; only
  ``server/app.py`` may open the store, and only through ``openucwa.store.open_store``.
* ``openucwa.client`` (the SDK) never imports the server, the store, the bus, the actions or the
  CLI, nor the CLI's libraries (typer, rich, subprocess): it depends on httpx and core only.
* ``openucwa.actions`` (use cases) reach storage only through ``store.interface`` and never the
  HTTP edge, the SDK, the CLI, Redis or SQLAlchemy.
* ``openucwa.store`` never imports the bus, the actions, the server, the SDK or the CLI.
* ``import openucwa`` (and the CLI module behind ``openucwa --help``) loads nothing heavy.
* No import cycles among openucwa modules at module level.

Each rule is a function of source text, so a synthetic source shows below that it can fail.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "openucwa"

IO_LIBRARIES = frozenset(
    {
        "starlette",
        "sqlalchemy",
        "httpx",
        "redis",
        "asyncpg",
        "uvicorn",
        "asyncio",
        "anyio",
        "socket",
    }
)
SERVER_FORBIDDEN = (
    "openucwa.store.sql",
    "openucwa.store.sqlite",
    "openucwa.store.postgres",
    "redis",
    "sqlalchemy",
)
CLIENT_FORBIDDEN = (
    "openucwa.server",
    "openucwa.store",
    "openucwa.bus",
    "openucwa.actions",
    "openucwa.cli",
    "typer",
    "rich",
    "subprocess",
)
ACTIONS_FORBIDDEN = (
    "openucwa.server",
    "openucwa.client",
    "openucwa.cli",
    "openucwa.store.sql",
    "openucwa.store.sqlite",
    "openucwa.store.postgres",
    "openucwa.bus.redis",
    "redis",
    "sqlalchemy",
    "starlette",
    "httpx",
)
STORE_FORBIDDEN = ("openucwa.bus", "openucwa.actions", "openucwa.server", "openucwa.client", "openucwa.cli")
HEAVY = ("starlette", "sqlalchemy", "httpx", "redis", "uvicorn", "asyncpg")


@dataclass(frozen=True)
class Import:
    """One imported module (``from X import a`` gives X, or X.a when X.a is a module)."""

    module: str
    names: tuple[str, ...]  # the names of ``from X import ...``; () for ``import X``
    line: int
    top_level: bool  # False inside a function (a deferred import)


@dataclass(frozen=True)
class Module:
    name: str
    is_package: bool
    source: str

    @property
    def package(self) -> str:
        return self.name if self.is_package else self.name.rpartition(".")[0]


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, top_level: bool = True) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, top_level
        elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            yield from _walk(child, False)
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.body:  # annotations only: never executed, so never a cycle
                yield from _walk(ast.Module(body=[stmt], type_ignores=[]), False)
            for stmt in child.orelse:
                yield from _walk(ast.Module(body=[stmt], type_ignores=[]), top_level)
        else:
            yield from _walk(child, top_level)


def imports_of(module: Module, known: Mapping[str, Module] | None = None) -> list[Import]:
    """Every import of a module with relative imports resolved against its package."""
    known = known or {}
    found: list[Import] = []
    for node, top in _walk(ast.parse(module.source)):
        if isinstance(node, ast.Import):
            found += [Import(alias.name, (), node.lineno, top) for alias in node.names]
            continue
        if node.level:
            parts = module.package.split(".")
            base_parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
            base = ".".join([*base_parts, *([node.module] if node.module else [])])
        else:
            base = node.module or ""
        names = tuple(alias.name for alias in node.names)
        submodules = [f"{base}.{n}" for n in names if _is_module(f"{base}.{n}", known)]
        found += [Import(sub, (), node.lineno, top) for sub in submodules]
        attributes = tuple(n for n in names if f"{base}.{n}" not in submodules)
        if attributes:
            found.append(Import(base, attributes, node.lineno, top))
    return found


def _is_module(name: str, known: Mapping[str, Module]) -> bool:
    """A module or a package (namespace packages such as ``openucwa.core`` have no file of their own)."""
    return name in known or any(k.startswith(name + ".") for k in known)


def load_modules(root: Path = SRC / PACKAGE) -> dict[str, Module]:
    modules: dict[str, Module] = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        name = ".".join(parts)
        modules[name] = Module(name, rel.name == "__init__", path.read_text(encoding="utf-8"))
    return modules


# -- the rules: each returns human-readable violations ----------------------------------------------


def core_violations(module: Module, known: Mapping[str, Module]) -> list[str]:
    if not _within(module.name, "openucwa.core"):
        return []
    out = []
    for imp in imports_of(module, known):
        top = imp.module.split(".")[0]
        if top == PACKAGE and not _within(imp.module, "openucwa.core"):
            out.append(f"{module.name}:{imp.line} imports {imp.module} (core must stay within core)")
        elif top in IO_LIBRARIES:
            out.append(f"{module.name}:{imp.line} imports {imp.module} (core does no I/O)")
    return out


def server_violations(module: Module, known: Mapping[str, Module]) -> list[str]:
    if not _within(module.name, "openucwa.server"):
        return []
    out = []
    for imp in imports_of(module, known):
        if any(_within(imp.module, f) for f in SERVER_FORBIDDEN):
            out.append(f"{module.name}:{imp.line} imports {imp.module}")
        elif _within(imp.module, "openucwa.store"):
            opens_store = module.name == "openucwa.server.app" and (imp.module, imp.names) == (
                "openucwa.store",
                ("open_store",),
            )
            if not opens_store:
                names = f" ({', '.join(imp.names)})" if imp.names else ""
                out.append(
                    f"{module.name}:{imp.line} imports {imp.module}{names}"
                    " (only server/app.py may, and only open_store)"
                )
    return out


def client_violations(module: Module, known: Mapping[str, Module]) -> list[str]:
    if not _within(module.name, "openucwa.client"):
        return []
    return [
        f"{module.name}:{imp.line} imports {imp.module} (the SDK must not depend on the server side)"
        for imp in imports_of(module, known)
        if any(_within(imp.module, f) for f in CLIENT_FORBIDDEN)
    ]


def actions_violations(module: Module, known: Mapping[str, Module]) -> list[str]:
    if not _within(module.name, "openucwa.actions"):
        return []
    out = []
    for imp in imports_of(module, known):
        if any(_within(imp.module, f) for f in ACTIONS_FORBIDDEN):
            out.append(
                f"{module.name}:{imp.line} imports {imp.module} (use cases stay behind the interfaces)"
            )
        elif imp.module == "openucwa.store" and imp.names:
            out.append(f"{module.name}:{imp.line} imports {imp.module} (use store.interface)")
    return out


def store_violations(module: Module, known: Mapping[str, Module]) -> list[str]:
    if not _within(module.name, "openucwa.store"):
        return []
    return [
        f"{module.name}:{imp.line} imports {imp.module} (storage knows only core)"
        for imp in imports_of(module, known)
        if any(_within(imp.module, f) for f in STORE_FORBIDDEN)
    ]


def import_graph(modules: Mapping[str, Module]) -> dict[str, set[str]]:
    """Module-level edges between openucwa modules (deferred imports inside functions do not count)."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, module in modules.items():
        for imp in imports_of(module, modules):
            if imp.top_level and imp.module in modules and imp.module != name:
                graph[name].add(imp.module)
    return graph


def find_cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def heavy_after_import(statement: str, pythonpath: Path = SRC) -> list[str]:
    """The heavy libraries a fresh interpreter holds after running ``statement``."""
    probe = "\n".join(
        [
            statement,
            "import json, sys",
            f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))",
        ]
    )
    r = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=pythonpath,
        env={"PYTHONPATH": str(pythonpath), "PATH": "/usr/bin:/bin"},
    )
    assert r.returncode == 0, r.stderr
    return list(json.loads(r.stdout))


# -- the real tree -----------------------------------------------------------------------------------

MODULES = load_modules()
RULES = {
    "core": core_violations,
    "server": server_violations,
    "client": client_violations,
    "actions": actions_violations,
    "store": store_violations,
}


def test_the_tree_was_found() -> None:
    assert "openucwa.server.app" in MODULES
    assert any(_within(m, "openucwa.core") for m in MODULES)
    assert MODULES["openucwa.server.routes.events"].package == "openucwa.server.routes"
    graph = import_graph(MODULES)
    assert "openucwa.store" in graph["openucwa.server.app"]
    assert "openucwa.core.commands" in graph["openucwa.server.routes.events"]  # from ...core import commands
    assert "openucwa.bus.redis" not in graph["openucwa.server.app"]  # imported inside a function only


@pytest.mark.parametrize("rule", sorted(RULES))
def test_layer_rule(rule: str) -> None:
    violations = [v for m in MODULES.values() for v in RULES[rule](m, MODULES)]
    assert violations == []


def test_server_app_opens_the_store_through_open_store() -> None:
    """The one exception of the server rule is the one in use (so the rule is not stale)."""
    app = imports_of(MODULES["openucwa.server.app"], MODULES)
    assert [(i.module, i.names) for i in app if _within(i.module, "openucwa.store")] == [
        ("openucwa.store", ("open_store",))
    ]


def test_no_import_cycles() -> None:
    assert find_cycles(import_graph(MODULES)) == []


@pytest.mark.parametrize(
    "statement", ["import openucwa", "import openucwa.cli"], ids=["package", "cli-for-help"]
)
def test_importing_stays_light(statement: str) -> None:
    assert heavy_after_import(statement) == []


# -- the rules can fail --------------------------------------------------------------------------------


def _synthetic(name: str, source: str, is_package: bool = False) -> tuple[Module, dict[str, Module]]:
    module = Module(name, is_package, textwrap.dedent(source))
    known = {
        m: Module(m, False, "")
        for m in ("openucwa.core.models", "openucwa.server.http", "openucwa.store.sql", "openucwa.bus.redis")
    }
    return module, {**known, name: module}


@pytest.mark.parametrize(
    ("rule", "name", "source", "violations"),
    [
        ("core", "openucwa.core.x", "from ..server import http", 1),
        ("core", "openucwa.core.x", "from openucwa.store.sql import SqlStore", 1),
        ("core", "openucwa.core.resources.x", "from ...actions import users", 1),
        ("core", "openucwa.core.x", "import asyncio", 1),
        ("core", "openucwa.core.x", "def f():\n    import httpx", 1),  # deferred imports count too
        ("core", "openucwa.core.x", "from sqlalchemy.ext.asyncio import AsyncEngine", 1),
        ("core", "openucwa.core.x", "from . import models\nfrom .models import User\nimport dataclasses", 0),
        ("core", "openucwa.core.resources.x", "from ..hal import link", 0),
        ("server", "openucwa.server.routes.x", "from ...store.sql import SqlStore", 1),
        ("server", "openucwa.server.x", "from ..store import sqlite", 1),
        ("server", "openucwa.server.x", "import redis.asyncio", 1),
        ("server", "openucwa.server.x", "import sqlalchemy as sa", 1),
        ("server", "openucwa.server.x", "from ..store import open_store", 1),  # not app.py
        ("server", "openucwa.server.x", "from ..store.interface import Store", 1),
        ("server", "openucwa.server.app", "from ..store import open_store, SqlStore", 1),
        ("server", "openucwa.server.app", "from ..store.interface import Store", 1),
        ("server", "openucwa.server.app", "from ..store import open_store", 0),
        ("server", "openucwa.server.app", "def f():\n    from ..bus.redis import RedisBus", 0),
        ("client", "openucwa.client.x", "from ..server import app", 1),
        ("client", "openucwa.client", "from .. import bus", 1),
        ("client", "openucwa.client.x", "import openucwa.store", 1),
        ("client", "openucwa.client.x", "def f():\n    from openucwa.bus.notifier import Notifier", 1),
        ("client", "openucwa.client.x", "import httpx\nfrom ..core import links", 0),
        ("client", "openucwa.client.x", "import typer", 1),
        ("client", "openucwa.client.x", "def f():\n    import subprocess", 1),
        ("client", "openucwa.client.x", "from ..cli import output", 1),
        ("actions", "openucwa.actions.x", "from ..store.sql import SqlStore", 1),
        ("actions", "openucwa.actions.x", "from ..server.http import query", 1),
        ("actions", "openucwa.actions.x", "import sqlalchemy as sa", 1),
        ("actions", "openucwa.actions.x", "from ..store import open_store", 1),
        ("actions", "openucwa.actions.x", "from ..store.interface import Tx\nfrom ..core import errors", 0),
        ("store", "openucwa.store.x", "from ..bus.notifier import Notifier", 1),
        ("store", "openucwa.store.x", "from ..actions import users", 1),
        ("store", "openucwa.store.x", "import sqlalchemy as sa\nfrom ..core.models import User", 0),
    ],
)
def test_rule_self_check(rule: str, name: str, source: str, violations: int) -> None:
    module, known = _synthetic(name, source, is_package=name == "openucwa.client")
    assert len(RULES[rule](module, known)) == violations, RULES[rule](module, known)


@pytest.mark.parametrize(
    ("sources", "cycles"),
    [
        (
            {"openucwa.a": "from . import b", "openucwa.b": "import openucwa.a"},
            [["openucwa.a", "openucwa.b"]],
        ),
        (
            {
                "openucwa.p.a": "from .b import x",
                "openucwa.p.b": "from .c import y",
                "openucwa.p.c": "from .a import z",
            },
            [["openucwa.p.a", "openucwa.p.b", "openucwa.p.c"]],
        ),
        ({"openucwa.a": "from . import b", "openucwa.b": "def f():\n    from . import a"}, []),
        ({"openucwa.a": "import openucwa.b", "openucwa.b": "if TYPE_CHECKING:\n    from . import a"}, []),
        ({"openucwa.a": "from . import b", "openucwa.b": "import os"}, []),
    ],
    ids=["two-modules", "three-modules", "deferred-import", "type-checking-only", "acyclic"],
)
def test_cycle_self_check(sources: dict[str, str], cycles: list[list[str]]) -> None:
    modules = {name: Module(name, False, textwrap.dedent(src)) for name, src in sources.items()}
    assert find_cycles(import_graph(modules)) == cycles


def test_relative_imports_from_a_package_init_resolve_against_the_package() -> None:
    modules = {
        "openucwa.p": Module("openucwa.p", True, "from .q import x\nfrom . import q"),
        "openucwa.p.q": Module("openucwa.p.q", False, "from . import r"),
        "openucwa.p.r": Module("openucwa.p.r", False, ""),
    }
    assert import_graph(modules) == {
        "openucwa.p": {"openucwa.p.q"},
        "openucwa.p.q": {"openucwa.p.r"},
        "openucwa.p.r": set(),
    }


def test_heavy_import_check_can_fail(tmp_path: Path) -> None:
    pkg = tmp_path / "heavypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("import httpx\n")
    (tmp_path / "lightpkg.py").write_text("import json\n")
    assert "httpx" in heavy_after_import("import heavypkg", tmp_path)
    assert heavy_after_import("import lightpkg", tmp_path) == []

"""What a test module needs, read from its source without importing it: the modules it
imports and the fixtures it requests and defines (``hakiri.testing.alone`` decides from
this which tests can run with one member installed alone)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Needs:
    """The imports and fixtures of one test module (or conftest.py)."""

    imports: frozenset[str]
    """Absolute module names imported anywhere at run time (``TYPE_CHECKING`` blocks aside)."""
    requests: frozenset[str]
    """Fixture names its tests and fixtures ask for and it does not define or parametrize."""
    defines: frozenset[str]
    """Fixture names it defines."""


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _Imports(ast.NodeVisitor):
    def __init__(self) -> None:
        self.found: set[str] = set()

    def visit_If(self, node: ast.If) -> None:
        # Imports only a type checker runs are no run-time need.
        if _is_type_checking(node.test):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.found.update(alias.name for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level or node.module is None:
            return
        self.found.add(node.module)
        # `from hakiri import testing` names a subpackage, not an attribute.
        if node.module == "hakiri":
            self.found.update(f"hakiri.{alias.name}" for alias in node.names)


def _call_name(node: ast.expr) -> str:
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Attribute):
        return target.attr
    return target.id if isinstance(target, ast.Name) else ""


def _strings(node: ast.expr) -> list[str]:
    """The names in a parametrize/usefixtures argument: ``"a, b"`` or ``("a", "b")``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [part.strip() for part in node.value.split(",") if part.strip()]
    if isinstance(node, ast.Tuple | ast.List):
        return [
            e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)
        ]
    return []


def _fixture_name(function: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    for decorator in function.decorator_list:
        if _call_name(decorator) != "fixture":
            continue
        if isinstance(decorator, ast.Call):
            for keyword in decorator.keywords:
                if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                    return str(keyword.value.value)
        return function.name
    return None


def _arguments(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    """Parameters pytest fills with fixtures: those without a default, ``self`` aside."""
    args = function.args
    positional = [*args.posonlyargs, *args.args]
    positional = positional[: len(positional) - len(args.defaults)]
    keyword = [
        a for a, default in zip(args.kwonlyargs, args.kw_defaults, strict=True) if not default
    ]
    return [a.arg for a in [*positional, *keyword] if a.arg not in {"self", "cls"}]


def _functions(tree: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """Module-level and class-level functions: where tests and fixtures are defined."""
    found: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append(node)
        elif isinstance(node, ast.ClassDef):
            todo.extend(node.body)
    return found


def _marked(tree: ast.Module) -> tuple[set[str], set[str]]:
    """Names given by ``parametrize`` and asked for by ``usefixtures`` / ``getfixturevalue``."""
    parametrized: set[str] = set()
    used: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = _call_name(node)
        if name == "parametrize":
            parametrized.update(_strings(node.args[0]))
        elif name == "usefixtures":
            for arg in node.args:
                used.update(_strings(arg))
        elif name == "getfixturevalue":
            used.update(_strings(node.args[0]))
    return parametrized, used


def read_needs(path: Path) -> Needs:
    """What the test module at ``path`` imports, asks for and defines."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    imports = _Imports()
    imports.visit(tree)
    parametrized, requested = _marked(tree)
    defines: set[str] = set()
    for function in _functions(tree):
        fixture = _fixture_name(function)
        if fixture is not None:
            defines.add(fixture)
        if fixture is not None or function.name.startswith("test"):
            requested.update(_arguments(function))
    return Needs(
        imports=frozenset(imports.found),
        requests=frozenset(requested - defines - parametrized),
        defines=frozenset(defines),
    )

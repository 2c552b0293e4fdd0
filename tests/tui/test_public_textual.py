"""The client side uses only Textual's public API, so a minor release of Textual breaks
nothing: no private module of Textual's is imported (`textual.widgets._footer`), no private
attribute of another object is reached into (`table._data`), and no widget's own `self._name`
is one its Textual base classes use (`self._row_locations` in a DataTable).

Import-linter cannot say this: it sees an external package as one module, `textual`.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import re
from collections.abc import Iterator
from pathlib import Path

import logistis

PACKAGE = Path(logistis.__file__).parent
SOURCES = sorted(
    path for room in ("client", "tui", "kubectl") for path in (PACKAGE / room).rglob("*.py")
)
# The only room with Textual objects to reach into: the others never import Textual (the
# import contracts), and the plugin reads argparse's `_actions` knowingly.
TUI = [path for path in SOURCES if path.is_relative_to(PACKAGE / "tui")]
PRIVATE = re.compile(r"_[a-z]")
# What Textual's own classes keep on `self` under a private name.
TEXTUAL_PRIVATE = re.compile(r"\bself\.(_[a-z]\w*)")


def private(name: str) -> bool:
    return PRIVATE.match(name) is not None


def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(PACKAGE.parent)}:{getattr(node, 'lineno', 0)}"


def test_no_private_module_of_textual_is_imported() -> None:
    found = []
    for path in SOURCES:
        for node in ast.walk(parsed(path)):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] == "textual" and any(private(part) for part in parts):
                    found.append(f"{where(path, node)} {name}")
    assert found == []


def test_no_private_attribute_of_another_object_is_used() -> None:
    found = [
        f"{where(path, node)} .{node.attr}"
        for path in TUI
        for node in ast.walk(parsed(path))
        if isinstance(node, ast.Attribute)
        and private(node.attr)
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
    ]
    assert found == []


def test_no_widget_uses_a_private_name_of_its_textual_bases() -> None:
    found = []
    for path in TUI:
        module = importlib.import_module(
            ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        )
        for definition, cls in classes(parsed(path), module):
            clashes = own_private_names(definition) & textual_private_names(cls)
            found += [f"{where(path, definition)} {cls.__qualname__}.{n}" for n in clashes]
    assert found == []


def classes(tree: ast.Module, module: object) -> Iterator[tuple[ast.ClassDef, type]]:
    """Every class the module defines, nested ones too, with its definition."""
    pending: list[tuple[ast.AST, object]] = [(tree, module)]
    while pending:
        node, owner = pending.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                cls = getattr(owner, child.name)
                yield child, cls
                pending.append((child, cls))


def own_private_names(definition: ast.ClassDef) -> set[str]:
    """The `self._name`s a class reads or sets, and the `_methods` it defines."""
    used = {
        node.attr
        for node in ast.walk(definition)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
        and private(node.attr)
    }
    defined = {
        node.name
        for node in definition.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and private(node.name)
    }
    return used | defined


def textual_private_names(cls: type) -> set[str]:
    names: set[str] = set()
    for base in cls.__mro__:
        if base.__module__.split(".")[0] == "textual":
            names |= private_names_of(base)
    return names


@functools.cache
def private_names_of(base: type) -> frozenset[str]:
    """Once per Textual class: most widgets share the bases (Widget, DOMNode) whose source is
    long, and `inspect.getsource` parses the whole module each time."""
    names = {name for name in vars(base) if private(name)}
    return frozenset(names | set(TEXTUAL_PRIVATE.findall(inspect.getsource(base))))

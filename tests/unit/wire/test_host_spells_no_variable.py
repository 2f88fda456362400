"""A guard: the host package writes no ``SOCKLAB_*`` name by hand; every one comes from a config object.

Hand-made strings are how the delay came to be validated by four rules: ``ServerConfig(delay=d).to_env()``
validates ``d`` and spells the variable. Docstrings and comments may name variables; code may not.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from socklab.paths import ROOT

HOST = ROOT / "socklab"
VARIABLE = re.compile(r"SOCKLAB_[A-Z]")


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def spelled_variables(path: Path, root: Path = ROOT) -> list[str]:
    """Each string literal in ``path``'s code (not its docstrings) that spells a SOCKLAB_ variable."""
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = _docstrings(tree)
    return [
        f"{path.relative_to(root)}:{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and VARIABLE.search(node.value)
    ]


def test_the_guard_sees_a_hand_made_variable_and_spares_docstrings_and_comments(tmp_path: Path) -> None:
    source = '"""Reads SOCKLAB_DELAY."""\n# SOCKLAB_PORT in a comment\nenv = {"SOCKLAB_DELAY": "5"}\nf"SOCKLAB_X={1}"\n'
    (tmp_path / "sample.py").write_text(source)
    assert spelled_variables(tmp_path / "sample.py", tmp_path) == [
        "sample.py:3: 'SOCKLAB_DELAY'",
        "sample.py:4: 'SOCKLAB_X='",
    ]


def test_no_host_module_spells_a_socklab_variable() -> None:
    found = [line for path in sorted(HOST.rglob("*.py")) for line in spelled_variables(path)]
    assert not found, "write these through wire.config/wire.compose (to_env, variable, env_name):\n" + "\n".join(found)

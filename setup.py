"""Ships the images' build contexts inside the wheel, as package data under ``socklab/_tree/``.

Everything else is in pyproject.toml. The folders and files are the ones ``socklab.paths`` names (read from
that file, so the list exists once); ``socklab.paths.ROOT`` finds them there when socklab does not run from
a checkout. An editable install needs none of this: it runs from the checkout, whose root is the tree.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "build")  # agents/peers/build: binaries compiled on a host


def _paths_constant(name: str) -> Any:
    """A constant of socklab/paths.py, read without importing socklab (the build has no dependencies)."""
    for node in ast.parse((HERE / "socklab" / "paths.py").read_text()).body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(getattr(target, "id", None) == name for target in targets) and node.value is not None:
                return ast.literal_eval(node.value)
    raise RuntimeError(f"socklab/paths.py defines no {name}")


class BuildWithTree(build_py):
    """build_py, then the build contexts copied into build/lib/socklab/_tree."""

    def run(self) -> None:
        super().run()
        tree = Path(self.build_lib, "socklab", _paths_constant("TREE"))
        for folder in _paths_constant("TREE_FOLDERS"):
            shutil.copytree(HERE / folder, tree / folder, ignore=IGNORED, dirs_exist_ok=True)
        for name in _paths_constant("TREE_FILES"):
            shutil.copy2(HERE / name, tree / name)


setup(cmdclass={"build_py": BuildWithTree})

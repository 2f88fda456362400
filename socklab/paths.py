"""Where the project's files are: the images' build contexts, in a checkout or inside the installed wheel.

In a checkout the build context of both images is the repository root (``ROOT`` = the checkout). An
installed wheel carries the same files under ``socklab/_tree/`` (``TREE``, copied there by setup.py's
build step), so ``socklab images`` works without a checkout; ``ROOT`` is then that folder.
"""

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
CHECKOUT = PACKAGE.parent

#: What the images, the compose demo, the swarm stack and the fault sidecars take from the tree: folders
#: (copied whole, without __pycache__ and agents/peers/build) and single files. setup.py ships exactly these.
TREE_FOLDERS = ("server", "client", "wire", "agents")
TREE_FILES = ("Dockerfile.server", "Dockerfile.client", ".dockerignore", "compose.yaml", "stack.yaml")
TREE = "_tree"  # the folder inside the installed package


def _root() -> Path:
    """The checkout when socklab runs from one, else the tree shipped inside the package."""
    if all((CHECKOUT / name).is_file() for name in (*TREE_FILES, "pyproject.toml")):
        return CHECKOUT
    return PACKAGE / TREE


ROOT = _root()
COMPOSE_FILE = ROOT / "compose.yaml"

"""Where the project's files are: the build context of both images is the repository root."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "compose.yaml"

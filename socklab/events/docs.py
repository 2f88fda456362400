"""docs/events.md's table of kinds and fields, made from ``kinds.SPECS`` (never written by hand).

    python -m socklab.events.docs docs/events.md     # rewrite the part between the markers

tests/unit/events/test_kinds.py fails when the file and the description differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

from socklab.events.kinds import SPECS

BEGIN = "<!-- kinds: made from socklab/events/kinds.py by `python -m socklab.events.docs docs/events.md` -->"
END = "<!-- end of kinds -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def kinds_markdown() -> str:
    """One section per kind: what it says, its host, a table of its fields."""
    parts = []
    for kind, spec in SPECS.items():
        rows = [
            f"| `{f.name}` | `{_cell(f.type)}` | {'yes' if f.required else ''} | {_cell(f.doc)} |" for f in spec.fields
        ]
        parts.append(
            f"### `{kind.value}`\n\n{spec.doc[0].upper()}{spec.doc[1:]}. Host: {spec.host}.\n\n"
            "| field | type | required | meaning |\n|---|---|---|---|\n" + "\n".join(rows) + "\n"
        )
    return "\n".join(parts)


def with_kinds(text: str) -> str:
    """``text`` (docs/events.md) with the part between the markers made anew."""
    if BEGIN not in text or END not in text:
        raise ValueError(f"the file has no markers {BEGIN!r} … {END!r}")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n\n{kinds_markdown()}\n{END}{tail}"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m socklab.events.docs docs/events.md", file=sys.stderr)
        return 2
    path = Path(argv[0])
    text = path.read_text(encoding="utf-8")
    made = with_kinds(text)
    if made != text:
        path.write_text(made, encoding="utf-8")
        print(f"{path}: the kinds' fields rewritten", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""Preparing a set of the catalog's entries in one process: each checked, the missing ones made, side by side
where nothing orders them, with a progress line as each starts and ends and one outcome each at the end."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Literal

from socklab.images.errors import MissingTool
from socklab.prepare.catalog import CATALOG, Context, Prerequisite, expand
from socklab.progress import Progress, quiet

__all__ = ["Outcome", "prepare"]

State = Literal["present", "prepared", "missing", "failed", "skipped"]
PARALLEL = 3  # apt takes turns anyway; image builds and downloads overlap their waits


@dataclass(frozen=True)
class Outcome:
    name: str
    state: State  # present: it was there; prepared: made now; missing: needs consent; failed; skipped
    seconds: float = 0.0
    detail: str = ""  # what went wrong, or how to install it

    @property
    def ok(self) -> bool:
        return self.state in ("present", "prepared")

    def line(self) -> str:
        took = f" in {self.seconds:.1f} s" if self.state == "prepared" else ""
        return f"{self.name:<12} {self.state}{took}{': ' + self.detail if self.detail else ''}"


def _one(entry: Prerequisite, context: Context) -> Outcome:
    started = time.monotonic()
    try:
        if entry.present(context):
            return Outcome(entry.name, "present")
        context.progress(f"{entry.name}: preparing {entry.what}")
        entry.make(context)
    except MissingTool as exc:
        state: State = "missing" if entry.consent and not context.install_missing else "failed"
        return Outcome(entry.name, state, time.monotonic() - started, str(exc))
    except Exception as exc:  # noqa: BLE001 - one entry's failure is reported; the others still go on
        return Outcome(entry.name, "failed", time.monotonic() - started, f"{type(exc).__name__}: {exc}")
    seconds = time.monotonic() - started
    context.progress(f"{entry.name}: ready in {seconds:.1f} s")
    return Outcome(entry.name, "prepared", seconds)


def prepare(
    names: Sequence[str],
    *,
    install_missing: bool = False,
    progress: Progress = quiet,
    on_outcome: Callable[[Outcome], None] | None = None,
    catalog: Sequence[Prerequisite] = CATALOG,
) -> list[Outcome]:
    """Check each entry ``names`` asks for (sets expanded, with what they need) and make what is missing.

    An entry starts once every entry it comes ``after`` is ready; one whose prerequisite failed is skipped.
    Returns one outcome per entry, in the catalog's order.
    """
    entries = expand(names, catalog)
    context = Context(install_missing=install_missing, progress=progress)
    outcomes: dict[str, Outcome] = {}
    waiting = list(entries)
    running: dict[Future[Outcome], Prerequisite] = {}

    def settle(outcome: Outcome) -> None:
        outcomes[outcome.name] = outcome
        if on_outcome is not None:
            on_outcome(outcome)

    with ThreadPoolExecutor(PARALLEL, thread_name_prefix="prepare") as pool:
        while waiting or running:
            for entry in list(waiting):
                firsts = [outcomes.get(name) for name in entry.after]  # expand() brought them all
                if any(first is not None and not first.ok for first in firsts):
                    waiting.remove(entry)
                    settle(Outcome(entry.name, "skipped", detail=f"needs {', '.join(entry.after)} first"))
                elif all(first is not None for first in firsts):
                    waiting.remove(entry)
                    running[pool.submit(_one, entry, context)] = entry
            if not running:
                continue
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                running.pop(future)
                settle(future.result())
    return [outcomes[entry.name] for entry in entries]

"""``--events FILE`` and ``--report FILE.html`` on every command that runs something: one options mixin and
one wrapper, applied by ``add_command`` to any command whose options inherit ``RecordOptions``.

The wrapper opens a ``Recorder`` for the whole command (the Lab, the faults, the bench and the trace
emit into it), records the run's start and end and, when the command said nothing itself, a verdict from
its exit code; then writes the report from the recorded events alone, as ``socklab report`` would.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from socklab.cli.exit_codes import ExitCode
from socklab.events.options import RecordOptions
from socklab.events.recorder import Recorder
from socklab.events.schema import Kind
from socklab.view.live import live_view

T = TypeVar("T")


def _args(options: Any) -> dict[str, Any]:
    skip = {f.name for f in dataclasses.fields(RecordOptions)}
    return {f.name: getattr(options, f.name) for f in dataclasses.fields(options) if f.name not in skip}


def recorded(command: str, run: Callable[[T], int]) -> Callable[[T], int]:
    """``run``, recorded into ``--events`` and reported into ``--report`` when either is given."""

    def wrapper(options: T) -> int:
        if not isinstance(options, RecordOptions) or not (options.events or options.report or options.view):
            return run(options)
        with live_view(options, options.events) as events:  # --view: served while the run writes it
            return _recorded(options, events)

    def _recorded(options: RecordOptions, events: str) -> int:
        code: int = ExitCode.FAILED
        recorder = Recorder(events or None, kernel=options.kernel)
        try:
            with recorder:
                recorder.emit(Kind.RUN_STARTED, command=command, args=_args(options), title=f"socklab {command}")
                error: list[str] = []
                try:
                    code = int(run(options))  # type: ignore[arg-type]
                except KeyboardInterrupt:
                    code = ExitCode.INTERRUPTED
                    error.append("interrupted")
                    raise
                except Exception as exc:
                    error.append(f"{type(exc).__name__}: {exc}"[:500])
                    raise
                finally:
                    if error or not any(e.kind is Kind.VERDICT for e in recorder.events):
                        text = "finished: exit 0" if code == 0 else f"did not succeed: exit {code}"
                        recorder.emit(Kind.VERDICT, ok=code == 0, text=text, details=error, from_exit_code=True)
                    recorder.emit(Kind.RUN_FINISHED, exit_code=code)
        finally:
            if options.report:
                from socklab.report.render import write_report

                path = write_report(recorder.events, options.report)
                print(f"report: {path}", file=sys.stderr)
            if options.events:
                print(f"events: {options.events}", file=sys.stderr)
        return code

    return wrapper

"""``kill -SIGNAL PID...`` for images without a shell: signals processes and says which it signalled."""

from __future__ import annotations

import argparse
import os
import signal

from probes.events import emit


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m probes.kill")
    parser.add_argument("--signal", default="SIGKILL")
    parser.add_argument("pids", nargs="+", type=int)
    args = parser.parse_args()
    number = signal.Signals[args.signal]
    for pid in args.pids:
        os.kill(pid, number)
    emit("signalled", signal=args.signal, pids=args.pids)


if __name__ == "__main__":
    main()

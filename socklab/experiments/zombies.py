"""``zombies``: a fork-per-connection server, three ways of treating SIGCHLD, clients coming and going.

``ignore`` is the original's ``signal(SIGCHLD, SIG_IGN)``: the kernel reaps each child as it exits.
``default`` never calls wait(): every finished child stays a zombie (``<defunct>`` in ps, state ``Z`` in
``/proc/<pid>/stat``) until the parent exits. ``reap`` catches SIGCHLD and calls waitpid(WNOHANG).
The zombies are counted inside each server container while its clients come and go, and after.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from socklab.experiments.record import Result
from socklab.experiments.stage import Stage
from socklab.progress import Progress, quiet

NAME = "zombies"
CLAIM = "with SIGCHLD ignored, finished children leave no zombies"
PORT = 9736
MODES = {"ignore": "SIGCHLD ignored (SIG_IGN)", "default": "SIGCHLD default, no wait()", "reap": "waitpid() on SIGCHLD"}


def run(*, probes_image: str, clients: int = 10, delay: float = 0.2, progress: Progress = quiet, **_: Any) -> Result:
    result = Result(NAME, CLAIM)
    started = time.monotonic()
    result.did += [
        "three fork-per-connection servers: " + "; ".join(f"{m} = {text}" for m, text in MODES.items()),
        f"a client host per server makes {clients} exchanges one after another (each child answers after "
        f"{delay:g} s and exits)",
        "zombies (state Z in /proc/<pid>/stat, <defunct> in ps) are counted in each server's container "
        "while the clients come and go, and once they are done",
    ]
    with Stage(NAME, probes_image=probes_image, progress=progress) as stage:
        servers = {
            mode: stage.start(
                f"server-{mode}",
                ["probes.server", "--port", str(PORT), "--model", "fork", "--sigchld", mode, "--delay", str(delay)],
                alias=mode,
            )
            for mode in MODES
        }
        for server in servers.values():
            stage.wait_for_event(server, "listening")
        crowd = {
            mode: stage.start(
                f"clients-{mode}",
                ["probes.client", "--server", mode, "--port", str(PORT), "--count", str(clients), "--sequential"],
            )
            for mode in MODES
        }
        samples = ["--samples", str(max(3, int(clients * delay / 0.3))), "--interval", "0.3"]
        with ThreadPoolExecutor(len(MODES)) as pool:
            during = dict(
                zip(MODES, pool.map(lambda s: stage.kernel(s, "zombies", *samples), servers.values()), strict=True)
            )
        answered = {
            mode: sum(r["outcome"] == "ok" for r in stage.wait_for_event(c, "done", timeout=60)["clients"])
            for mode, c in crowd.items()
        }
        forked = {mode: len(stage.events(s, "forked")) for mode, s in servers.items()}
        after = {mode: stage.kernel(s, "zombies")[0] for mode, s in servers.items()}

    modes = {
        mode: {
            "answered": answered[mode],
            "forked": forked[mode],
            "zombies_during_max": max(len(sample["zombies"]) for sample in during[mode]),
            "zombies_during": [len(sample["zombies"]) for sample in during[mode]],
            "zombies_after": len(after[mode]["zombies"]),
            "defunct": [f"{z['pid']} ({z['comm']}) <defunct>, parent {z['ppid']}" for z in after[mode]["zombies"]][:3],
        }
        for mode in MODES
    }
    result.numbers = {"clients": clients, "modes": modes}
    result.observed.append(f"{'SIGCHLD':<9} {'answered':>8} {'forked':>6} {'zombies while serving':>22} {'after':>6}")
    for mode, m in modes.items():
        seen = ",".join(map(str, m["zombies_during"]))
        result.observed.append(f"{mode:<9} {m['answered']:>8} {m['forked']:>6} {seen:>22} {m['zombies_after']:>6}")
    if modes["default"]["defunct"]:
        result.observed.append("e.g. " + "; ".join(modes["default"]["defunct"]))
    if modes["ignore"]["zombies_during_max"] or modes["ignore"]["zombies_after"]:
        result.differences.append(f"with SIGCHLD ignored {modes['ignore']['zombies_after']} zombies remained")
    if modes["default"]["zombies_after"] == 0:
        result.differences.append("even without wait() no zombie remained")
    result.seconds = time.monotonic() - started
    return result

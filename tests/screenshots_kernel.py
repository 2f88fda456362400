"""The kernel views' screenshots in docs/ (view-kernel-sockets.png, -packets.png, -calls.png), from logs
made up as ``--kernel`` writes them (``support_kernel.Story``), in headless chromium:

    .venv/bin/python tests/screenshots_kernel.py docs

Sockets: the serial server 2 s into 9 clients at once (the queue full, two clients sending SYN again);
Packets: client-9's ladder in that run (its SYN dropped, then the exchange); System calls: the fork server
with three clients 0.8 s apart.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from socklab.events.recorder import Recorder
from socklab.view.server import ViewServer
from support_kernel import Story
from support_view import browser, click, until


def shoot(story: Story, out: Path, section: str, *, until_s: float | None = None, pick: str = "") -> None:
    with tempfile.TemporaryDirectory() as folder, Recorder(Path(folder) / "run.jsonl") as recorder:
        story.write(recorder, until=until_s)
        with ViewServer(recorder.path, port=0) as view, browser(1300, 3000) as page:
            page.get(view.url)
            until(page, 10, lambda d: d.execute_script(f"return !document.getElementById('{section}').hidden"), section)
            until(page, 10, lambda d: d.execute_script("return window.socklab.lastN") == len(recorder.events), "all")
            if pick:
                click(page, f'#packets .pick[data-pick="{pick}"]')
            time.sleep(0.5)  # the panels' last redraw (at most every 200 ms); a picture, not a test
            out.write_bytes(page.find_element("id", section).screenshot_as_png)
            print(out)


def main(folder: str) -> None:
    docs = Path(folder)
    now = time.time()
    serial = Story(model="serial", clients=9, delay=3.0, start=now - 2.0)
    shoot(serial, docs / "view-kernel-sockets.png", "sockets", until_s=2.0)
    shoot(Story(model="serial", clients=9, delay=1.0), docs / "view-kernel-packets.png", "packets", pick="client-9")
    fork = Story(model="fork", clients=3, delay=2.0, spacing=0.8, start=now - 10)
    shoot(fork, docs / "view-kernel-calls.png", "calls")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs")

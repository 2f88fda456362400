"""The kernel views' screenshots in docs/ (view-kernel-sockets.png, -packets.png, -calls.png), in headless
chromium, from real runs with ``--kernel`` (``--real``: what docs/ holds) or from logs made up as ``--kernel``
writes them (``support_kernel.Story``):

    .venv/bin/python tests/screenshots_kernel.py docs --real    # images built from the tree, removed after
    .venv/bin/python tests/screenshots_kernel.py docs

Sockets: the serial server with 9 clients at once, its queue full and clients sending their SYN again;
Packets: the ladder of the last client whose SYN was dropped; System calls: the C original (c-fork) with three
clients (made up: the fork server, 0.8 s apart).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import docker

from socklab.events.recorder import Recorder
from socklab.images.build import build_images
from socklab.lab.labels import RUN, new_run_id, run_labels
from socklab.view.server import ViewServer
from support_kernel import Story
from support_view import LiveRun, browser, click, until

FINISHED = "return document.getElementById('status').innerText.startsWith('finished')"


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


def real(docs: Path) -> None:
    """From real runs (needs ``--kernel``): the session's images built from the tree, removed afterwards."""
    client = docker.from_env()
    session = new_run_id()
    images = build_images(
        client, repository_prefix="socklab-shots", session=session, labels=run_labels(session, "test")
    )
    try:
        with tempfile.TemporaryDirectory() as folder:
            serial = ["run", "--clients", "9", "--delay", "3", "--server-image", images.servers["serial"],
                      "--client-image", images.client, "--kernel"]  # fmt: skip
            with browser(1300, 3000) as page, LiveRun(serial, Path(folder) / "serial.jsonl") as run:
                page.get(run.url)
                full = "return !!document.querySelector('#sockets .listen.full .slot') && "
                full += "document.querySelectorAll('#sockets .synagain.now').length > 0"
                until(page, 120, lambda d: d.execute_script(full), "the queue full", context=run.told)
                time.sleep(0.4)  # the panel's next redraw; a picture, not a test
                (docs / "view-kernel-sockets.png").write_bytes(page.find_element("id", "sockets").screenshot_as_png)
                until(page, 120, lambda d: d.execute_script(FINISHED), "the run's end", context=run.told)
                dropped = "return [...document.querySelectorAll('#sockets .synagain')]"
                dropped += ".map(e => e.closest('.sock-host').dataset.host)"
                click(page, f'#packets .pick[data-pick="{page.execute_script(dropped)[-1]}"]')
                time.sleep(0.4)
                (docs / "view-kernel-packets.png").write_bytes(page.find_element("id", "packets").screenshot_as_png)
            fork = ["run", "--clients", "3", "--delay", "2", "--server-image", images.servers["c-fork"],
                    "--client-image", images.client, "--kernel"]  # fmt: skip
            with browser(1300, 3000) as page, LiveRun(fork, Path(folder) / "fork.jsonl") as run:
                page.get(run.url)
                until(page, 120, lambda d: d.execute_script(FINISHED), "the run's end", context=run.told)
                time.sleep(0.4)
                (docs / "view-kernel-calls.png").write_bytes(page.find_element("id", "calls").screenshot_as_png)
    finally:
        for image in client.images.list(filters={"label": f"{RUN}={session}"}):  # the loader's too
            client.images.remove(image.id, force=True)


def main(folder: str) -> None:
    docs = Path(folder)
    if "--real" in sys.argv:
        real(docs)
        return
    now = time.time()
    serial = Story(model="serial", clients=9, delay=3.0, start=now - 2.0)
    shoot(serial, docs / "view-kernel-sockets.png", "sockets", until_s=2.0)
    shoot(Story(model="serial", clients=9, delay=1.0), docs / "view-kernel-packets.png", "packets", pick="client-9")
    fork = Story(model="fork", clients=3, delay=2.0, spacing=0.8, start=now - 10)
    shoot(fork, docs / "view-kernel-calls.png", "calls")


if __name__ == "__main__":
    main(next((a for a in sys.argv[1:] if not a.startswith("--")), "docs"))

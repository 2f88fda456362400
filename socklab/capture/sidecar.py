"""tcpdump in a sidecar: the tools image in the server container's network namespace.

Our images carry no capture tools (and must not: they are the lab's hosts). The sidecar joins the
target's namespace (``network_mode=container:<id>``) with NET_ADMIN and NET_RAW, so it sees the
target's own ``eth0``; it writes the pcap inside itself, and the host copies the file out at the end
(``get_archive``), so nothing depends on a folder shared between the host and the engine.
"""

from __future__ import annotations

import contextlib
import io
import re
import tarfile
from types import TracebackType

import docker
import docker.errors
from docker.models.containers import Container
from testcontainers.core.container import DockerContainer

from socklab.images import ensure_image
from socklab.lab.readiness import wait_for_log
from socklab.progress import Progress, quiet

PCAP = "/tmp/trace.pcap"  # inside the sidecar


class CaptureFailed(RuntimeError):
    """tcpdump did not start, or left no capture file; the message carries its output."""


def tools_image(client: docker.DockerClient, progress: Progress = quiet) -> str:
    """The tools image (python3, iproute2, iptables, tcpdump), built from Debian packages when missing."""
    return ensure_image(client, "tools", progress=progress)


class Tcpdump:
    """``with Tcpdump(target, image=…, labels=…) as capture: …``; then ``capture.pcap`` holds the bytes."""

    def __init__(
        self,
        target: Container,
        *,
        image: str,
        labels: dict[str, str],
        name: str,
        interface: str = "eth0",
        bpf: str = "tcp",
    ) -> None:
        self.target = target
        self.pcap = b""
        self.summary = ""
        self.sidecar = (
            DockerContainer(image)
            .with_command(["tcpdump", "-i", interface, "-n", "--immediate-mode", "-U", "-w", PCAP, bpf])
            .with_name(name)
            .with_kwargs(
                labels=labels,
                network_mode=f"container:{target.id}",
                cap_add=["NET_ADMIN", "NET_RAW"],
                user="0",
            )
        )

    def __enter__(self) -> Tcpdump:
        self.sidecar.start()
        try:
            wait_for_log(self.sidecar, re.escape("listening on"), timeout=30)
        except Exception as exc:  # whatever went wrong, say what tcpdump printed
            out, err = self.sidecar.get_logs()
            self.sidecar.stop()
            raise CaptureFailed(f"tcpdump did not start: {(out + err).decode(errors='replace')[-1500:]}") from exc
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is None:
                self._finish()
        finally:
            with contextlib.suppress(docker.errors.NotFound):
                self.sidecar.stop()

    def _finish(self) -> None:
        wrapped = self.sidecar.get_wrapped_container()
        wrapped.kill(signal="SIGINT")  # tcpdump flushes the file and prints its counts
        wrapped.wait(timeout=30)
        out, err = self.sidecar.get_logs()
        self.summary = (out + err).decode(errors="replace").strip()
        try:
            chunks, _stat = wrapped.get_archive(PCAP)
        except docker.errors.NotFound as exc:
            raise CaptureFailed(f"tcpdump left no {PCAP}: {self.summary[-1500:]}") from exc
        with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as archive:
            member = archive.extractfile(archive.getmembers()[0])
            assert member is not None
            self.pcap = member.read()


def run_in_namespace(
    client: docker.DockerClient, target: Container, command: list[str], *, image: str, labels: dict[str, str]
) -> str:
    """Run one command of the tools image in ``target``'s network namespace; its output, or CaptureFailed."""
    sidecar = client.containers.create(
        image,
        command,
        labels=labels,
        network_mode=f"container:{target.id}",
        cap_add=["NET_ADMIN", "NET_RAW"],
        user="0",
    )
    try:
        sidecar.start()
        status = sidecar.wait(timeout=60)["StatusCode"]
        output = bytes(sidecar.logs()).decode(errors="replace")
    finally:
        sidecar.remove(force=True)
    if status != 0:
        raise CaptureFailed(f"{' '.join(command)} exited {status}: {output[-1500:]}")
    return output

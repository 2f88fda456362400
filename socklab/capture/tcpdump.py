"""tcpdump in a tools sidecar (``socklab.lab.sidecar``) in a container's network namespace.

The sidecar joins the target's namespace with NET_ADMIN and NET_RAW, so it sees the target's own
``eth0``; it writes the pcap inside itself, and the host copies the file out at the end
(``get_archive``), so nothing depends on a folder shared between the host and the engine.
"""

from __future__ import annotations

import io
import tarfile
from types import TracebackType

import docker.errors

from socklab.lab.containers import LabContainer
from socklab.lab.lab import Lab
from socklab.lab.sidecar import SidecarFailed, beside

PCAP = "/tmp/trace.pcap"  # inside the sidecar


class CaptureFailed(SidecarFailed):
    """tcpdump did not start, or left no capture file; the message carries its output."""


class Tcpdump:
    """``with Tcpdump(lab, target, image=…) as capture: …``; then ``capture.pcap`` holds the bytes."""

    def __init__(
        self,
        lab: Lab,
        target: LabContainer,
        *,
        image: str,
        interface: str = "eth0",
        bpf: str = "tcp",
        snaplen: int | None = None,
    ) -> None:
        """``snaplen``: bytes kept of each packet (tcpdump's default, 262144, when None). A short one keeps
        the headers and the first bytes of data, and lets the kernel's capture buffer hold a burst."""
        self.lab = lab
        self.pcap = b""
        self.summary = ""
        short = [] if snaplen is None else ["-s", str(snaplen)]
        command = ["tcpdump", *short, "-i", interface, "-n", "--immediate-mode", "-U", "-w", PCAP, bpf]
        self.node = beside(lab, target, command, image=image, role="tcpdump")
        self.sidecar: LabContainer | None = None

    def __enter__(self) -> Tcpdump:
        self.sidecar = self.lab.add(self.node)
        try:
            self.sidecar.wait_for_log("listening on", timeout=30, literal=True)
        except Exception as exc:  # whatever went wrong, say what tcpdump printed
            output = self.sidecar.logs()
            self.lab.remove(self.sidecar)
            raise CaptureFailed(f"tcpdump did not start: {output[-1500:]}") from exc
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self.sidecar is not None
        try:
            if exc_type is None:
                self._finish(self.sidecar)
        finally:
            self.lab.remove(self.sidecar)

    def _finish(self, sidecar: LabContainer) -> None:
        sidecar.signal("SIGINT")  # tcpdump flushes the file and prints its counts
        sidecar.wait(timeout=30)
        self.summary = sidecar.logs().strip()
        try:
            chunks, _stat = sidecar.sdk.get_archive(PCAP)
        except docker.errors.NotFound as exc:
            raise CaptureFailed(f"tcpdump left no {PCAP}: {self.summary[-1500:]}") from exc
        with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as archive:
            member = archive.extractfile(archive.getmembers()[0])
            assert member is not None
            self.pcap = member.read()

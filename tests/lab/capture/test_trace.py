"""``socklab trace`` on real containers: the packets of one exchange, and what loss adds."""

from __future__ import annotations

import dpkt
import pytest

from socklab.capture.trace import run_trace
from socklab.events import Kind
from socklab.events.recorder import Recorder

pytestmark = pytest.mark.lab


def leftovers(docker_client) -> list[str]:
    selector = {"label": "io.socklab.purpose=experiment-trace"}
    return [c.name for c in docker_client.containers.list(all=True, filters=selector)]


def test_one_exchange_is_captured_drawn_and_listed(lab_images, docker_client, tmp_path):
    with Recorder() as recorder:
        result = run_trace(output=tmp_path, server_image=lab_images.server, client_image=lab_images.client, delay=1)
    packets = [e.data for e in recorder.events if e.kind is Kind.PACKET]
    assert len(packets) == len(result.segments)
    client_end = next(p["src"] for p in packets if p["label"] == "SYN")
    assert {p["conn"] for p in packets} == {f"{client_end}>{result.server.address}:9736"}  # as --kernel names it
    labels = [label.removesuffix(" (retransmission)") for label in result.labels()]
    assert result.answer == "B"
    assert labels[:3] == ["SYN", "SYN-ACK", "ACK"]
    assert "'A'" in labels and any(label.startswith("'B'") for label in labels)
    assert sum("FIN" in label for label in labels) == 2  # each side closes
    pause = next(s.time for s in result.segments if s.label.startswith("'B'")) - next(
        s.time for s in result.segments if s.label == "'A'"
    )
    assert pause >= 0.95  # the server's delay shows between 'A' and 'B'
    assert len(list(dpkt.pcap.Reader(result.pcap.open("rb")))) >= len(result.segments)
    assert result.picture.read_bytes()[:4] == b"\x89PNG"
    assert "SYN-ACK" in result.text.read_text()
    assert not leftovers(docker_client)


@pytest.mark.experiments
def test_under_loss_the_answer_still_comes(lab_images, docker_client, tmp_path):
    result = run_trace(
        output=tmp_path, server_image=lab_images.server, client_image=lab_images.client, delay=0.5, loss=30
    )
    assert result.answer == "B"
    assert result.fault and "30" in result.text.read_text()
    assert not leftovers(docker_client)

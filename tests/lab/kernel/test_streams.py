"""``--kernel`` on real containers: each stream tells the lesson as the kernel saw it, for the server and each client.

Each test fails when its stream is missing or wrong: a listener without its backlog, a connection seen from one
end only, a handshake or an answer not on the wire, accept or the child's read, sleep and write not traced.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict

import pytest

from socklab.cli.main import ExitCode, main
from socklab.events import Event, Kind, parse_log
from socklab.events.recorder import Recorder
from socklab.lab.lab import Lab

pytestmark = pytest.mark.lab

DELAY = 2.0
MODELS = ["fork", "c-fork", *(pytest.param(m, marks=pytest.mark.slow) for m in ("thread", "async", "epoll", "c-epoll"))]
SLEEPS = ("clock_nanosleep", "nanosleep")  # the fork models' children sleep; the event loops wait in epoll_wait


def kernel_run(server: str, client: str, clients: int = 3) -> tuple[list[Event], list[str]]:
    """A lab observed with --kernel; its events and the clients' connections (client ip:port>server ip:port)."""
    with (
        Recorder(kernel=True) as recorder,
        Lab(server_image=server, client_image=client, delay=DELAY, purpose="test") as lab,
    ):
        runs = lab.run_clients(clients)
        server_end = f"{lab.server_address()}:{lab.port}"
    assert all(run.exit_code == 0 and run.received == "B" for run in runs), [run.describe() for run in runs]
    conns = [f"{run.result.address}>{server_end}" for run in runs if run.result and run.result.address]
    assert len(conns) == clients
    return recorder.events, conns


def of(events: list[Event], kind: Kind, host: str | None = None) -> list[Event]:
    return [e for e in events if e.kind is kind and (host is None or e.host == host) and not e.data.get("probe")]


@pytest.fixture(scope="module", params=MODELS)
def observed(request, lab_images, tools_image):
    events, conns = kernel_run(lab_images.servers[request.param], lab_images.client)
    return request.param, events, conns


def test_sockets_the_listener_with_its_backlog_and_each_connection_from_both_ends(observed):
    _model, events, conns = observed
    server = of(events, Kind.SOCKET, "server")
    listener = [e.data for e in server if e.data["key"] == "0.0.0.0:9736"]
    assert listener and listener[0]["state"] == "LISTEN" and listener[0]["backlog"] == 5
    for index, conn in enumerate(conns, start=1):
        for host in ("server", f"client-{index}"):
            states = [e.data["state"] for e in of(events, Kind.SOCKET, host) if e.data["conn"] == conn]
            assert "ESTABLISHED" in states, (host, conn, states)
            assert states[-1] in ("TIME_WAIT", "GONE"), (host, conn, states)  # closed by the end of the run
    sampled = {e.host: e.data["value"] for e in of(events, Kind.MEASUREMENT) if e.data["name"] == "kernel.sampling"}
    assert sampled["server"] <= 0.1 and {f"client-{k}" for k in (1, 2, 3)} <= sampled.keys()


def fin_senders(seen: list[dict]) -> list[str]:
    return list(dict.fromkeys(p["src"] for p in seen if "FIN" in p["flags"]))


def test_packets_each_connection_on_the_wire_at_both_ends(observed):
    _model, events, conns = observed
    for index, conn in enumerate(conns, start=1):
        client_end = conn.split(">")[0]
        for host in ("server", f"client-{index}"):
            seen = [e.data for e in of(events, Kind.PACKET, host) if e.data["conn"] == conn]
            labels = [p["label"] for p in seen]
            for label in ("SYN", "SYN-ACK", "'A'", "'B'"):
                assert label in labels, (host, conn, labels)
            assert labels.index("SYN") < labels.index("'A'") < labels.index("'B'"), labels
            assert client_end in fin_senders(seen), (host, conn, seen)
        # Both sides closed, as the server's end saw it (it outlives the run). A client's end sees the server's
        # FIN too unless the client closed first and its host was gone before that FIN came (a traced child
        # can be held between write and close on a loaded machine): then the server's end saw the client's
        # FIN first.
        at_server = fin_senders([e.data for e in of(events, Kind.PACKET, "server") if e.data["conn"] == conn])
        assert len(at_server) == 2, (conn, at_server)
        at_client = fin_senders([e.data for e in of(events, Kind.PACKET, f"client-{index}") if e.data["conn"] == conn])
        assert len(at_client) == 2 or at_server[0] == client_end, (conn, at_server, at_client)


def test_syscalls_socket_bind_listen_then_accept_read_and_write_on_each_connection(observed):
    _model, events, conns = observed
    calls = of(events, Kind.SYSCALL, "server")
    attached = [e for e in calls if e.data["call"] == "attached"]
    assert len(attached) == 1 and attached[0].data["from_start"] is True
    made = [
        e.data["call"]
        for e in calls
        if e.data["done"]
        and e.data["call"] in ("socket", "bind", "listen", "accept", "accept4")
        and (e.data["call"] != "socket" or e.data["args"].startswith("AF_INET, SOCK_STREAM"))
    ]
    assert made[:3] == ["socket", "bind", "listen"], made
    by_conn: dict[str, list[dict]] = defaultdict(list)
    for e in calls:
        if e.data["done"] and e.data.get("conn"):
            by_conn[e.data["conn"]].append(e.data)
    for conn in conns:
        story = by_conn[conn]
        assert any(c["call"] in ("accept", "accept4") for c in story), (conn, story)
        assert any(c["call"] in ("read", "recvfrom") and '"A"' in c["args"] for c in story), (conn, story)
        assert any(c["call"] in ("write", "sendto") and '"B"' in c["args"] for c in story), (conn, story)
        assert any(c["call"] == "close" for c in story), (conn, story)


def test_the_fork_servers_child_reads_sleeps_writes_and_closes(observed):
    model, events, conns = observed
    if model not in ("fork", "c-fork"):
        pytest.skip("only the fork models fork a child per connection")
    calls = [e.data for e in of(events, Kind.SYSCALL, "server")]
    children = {int(c["result"]) for c in calls if c["call"] in ("clone", "fork") and str(c["result"]).isdigit()}
    served = 0
    for pid in children:
        story = [c for c in calls if c["pid"] == pid and c["done"]]
        wrote = [c for c in story if c["call"] in ("write", "sendto") and '"B"' in c["args"]]
        if not wrote:
            continue  # socklab's readiness check: it sent nothing
        served += 1
        names = [c["call"] for c in story]
        read = names.index(next(c["call"] for c in story if '"A"' in c["args"]))
        sleep = next(i for i, c in enumerate(story) if c["call"] in SLEEPS)
        assert read < sleep < story.index(wrote[0]) < len(story) - 1, names
        assert story[sleep]["seconds"] == pytest.approx(DELAY, abs=0.3)
        assert names[-1] == "exit" and "close" in names[story.index(wrote[0]) :], names
    assert served == len(conns)
    # While it sleeps, the child's lane says so: the sleep is told once as blocked, before it returns.
    blocked = [c for c in calls if c["call"] in SLEEPS and not c["done"] and c["pid"] in children]
    assert len(blocked) >= len(conns)


def test_socklab_run_with_kernel_writes_every_stream_for_every_host(lab_images, tools_image, tmp_path, capsys):
    log = tmp_path / "e.jsonl"
    code = main(
        ["run", "--clients", "3", "--delay", "2", "--kernel", "--events", str(log),
         "--server-image", lab_images.server, "--client-image", lab_images.client]
    )  # fmt: skip
    assert code == ExitCode.OK, capsys.readouterr()
    events = parse_log(log.read_text())
    hosts = {"server", "client-1", "client-2", "client-3"}
    for kind in (Kind.SOCKET, Kind.PACKET):
        assert {e.host for e in of(events, kind)} >= hosts, kind
    assert {e.host for e in of(events, Kind.SYSCALL)} == {"server"}
    # The kernel's helpers are removed with the lab: the observer and the tracer stopped before the run ended.
    helpers = {e.host for e in events if e.host.startswith("kernel-")}
    stopped = {e.host for e in events if e.kind is Kind.CONTAINER_STOPPED}
    assert helpers and helpers <= stopped, (helpers, stopped)


def test_a_restarted_server_is_observed_and_traced_again(lab_images, tools_image):
    attached: list[Event] = []
    again = threading.Event()

    def listener(event: Event) -> None:
        if event.kind is Kind.SYSCALL and event.data["call"] == "attached":
            attached.append(event)
            if len(attached) == 2:
                again.set()

    with (
        Recorder(kernel=True, listeners=[listener]) as recorder,
        Lab(server_image=lab_images.server, client_image=lab_images.client, delay=0.5, purpose="test") as lab,
    ):
        assert lab.server is not None
        lab.server.sdk.restart(timeout=10)
        assert again.wait(60), "no second tracer attached to the restarted server in 60 s"
        lab.wait_for_server_log(r"listening on", timeout=30)
        restarted = time.time()
        (run,) = lab.run_clients(1)
        conn = f"{run.result.address}>{lab.server_address()}:{lab.port}" if run.result else ""
    assert run.received == "B"
    assert [e.data["from_start"] for e in attached] == [True, True]  # the new server waited for its new tracer
    later = [e for e in recorder.events if e.t >= restarted and e.data.get("conn") == conn]
    assert {e.kind for e in later} >= {Kind.SOCKET, Kind.PACKET, Kind.SYSCALL}, later


def test_a_server_met_already_listening_is_traced_from_there_and_says_so(lab_images, tools_image):
    """What a foreign image gets (it does not wait for its tracer): the lane starts at the attachment."""
    with (
        Recorder(kernel=True) as recorder,
        Lab(server_image=lab_images.server, client_image=lab_images.client, delay=0.5, purpose="test") as lab,
    ):
        assert lab.server is not None
        lab.trace_syscalls(lab.server)  # a new tracer for the server that already listens
        (run,) = lab.run_clients(1)
    assert run.received == "B"
    attached = [e for e in recorder.events if e.kind is Kind.SYSCALL and e.data["call"] == "attached"]
    assert [e.data["from_start"] for e in attached] == [True, False]
    after = [e.data["call"] for e in recorder.events if e.kind is Kind.SYSCALL and e.t > attached[1].t]
    assert "accept4" in after and "listen" not in after

"""The fault agent's life (apply, hold, undo, verify) run for real, over stand-ins for iptables and tc."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from socklab.paths import ROOT

FAKE = Path(__file__).with_name("fake_net.py")


@pytest.fixture
def fake_env(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("iptables", "iptables-save", "tc", "ip"):
        script = bin_dir / tool
        script.write_text(f"#!{sys.executable}\n" + FAKE.read_text())
        script.chmod(0o755)
    return {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE_NET_STATE": str(tmp_path / "state.json"),
        "PYTHONPATH": str(ROOT / "agents"),
    }


class Agent:
    def __init__(self, spec: dict, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sidecar", json.dumps(spec)],
            cwd=ROOT / "agents",
            env={**os.environ, **env},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def events(self) -> Iterator[dict]:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            yield json.loads(line)

    def next(self) -> dict:
        return next(self.events())

    def say(self, word: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(word + "\n")
        self.process.stdin.flush()

    def let_go(self) -> int:
        assert self.process.stdin is not None
        self.process.stdin.close()
        return self.process.wait(timeout=15)


def test_a_timed_fault_ends_by_itself_and_leaves_the_namespace_as_it_was(fake_env: dict[str, str]) -> None:
    agent = Agent({"kind": "loss", "id": "t1", "percent": 20, "seconds": 0.3}, fake_env)
    applied = agent.next()
    assert applied["event"] == "applied"
    assert any("statistic" in command for command in applied["commands"])
    undone = agent.next()
    assert undone["event"] == "undone" and undone["reason"] == "its time ran out"
    assert undone["clean"] is True and undone["diff"] == []
    assert undone["at"] - applied["at"] >= 0.3
    assert agent.let_go() == 0


def test_the_holder_ends_an_untimed_fault_by_asking(fake_env: dict[str, str]) -> None:
    agent = Agent({"kind": "rate", "id": "t2", "kbit": 100}, fake_env)
    assert agent.next()["event"] == "applied"
    agent.say("undo")
    assert agent.next()["reason"] == "the holder asked"
    assert agent.let_go() == 0


def test_an_untimed_fault_ends_when_its_holder_is_gone(fake_env: dict[str, str]) -> None:
    agent = Agent({"kind": "partition", "id": "t3"}, fake_env)
    assert agent.next()["event"] == "applied"
    assert agent.process.stdin is not None
    agent.process.stdin.close()  # what dockerd does to a StdinOnce stdin when the CLI is SIGKILLed
    undone = agent.next()
    assert undone["reason"] == "its holder is gone" and undone["clean"] is True
    assert agent.process.wait(timeout=15) == 0


def test_a_timed_fault_outlives_its_holder_and_still_ends_on_time(fake_env: dict[str, str]) -> None:
    agent = Agent({"kind": "reset", "id": "t4", "seconds": 0.5}, fake_env)
    assert agent.next()["event"] == "applied"
    assert agent.process.stdin is not None
    agent.process.stdin.close()
    undone = agent.next()
    assert undone["reason"] == "its time ran out" and undone["clean"] is True


def test_sigterm_undoes_at_once(fake_env: dict[str, str]) -> None:
    agent = Agent({"kind": "loss", "id": "t5", "percent": 5}, fake_env)
    assert agent.next()["event"] == "applied"
    agent.process.terminate()
    assert agent.next()["reason"] == "SIGTERM"


def test_a_kernel_without_the_qdisc_fails_cleanly(fake_env: dict[str, str]) -> None:
    agent = Agent({"kind": "latency", "id": "t6", "ms": 100}, {**fake_env, "FAKE_NET_MISSING": "netem"})
    failed = agent.next()
    assert failed["event"] == "failed"
    assert "qdisc kind is unknown" in failed["message"] and failed["clean"] is True
    assert agent.let_go() == 2


def test_a_rule_that_will_not_go_is_reported_loudly(fake_env: dict[str, str]) -> None:
    agent = Agent({"kind": "partition", "id": "t7", "seconds": 0.1}, {**fake_env, "FAKE_NET_STUCK": "1"})
    assert agent.next()["event"] == "applied"
    undone = agent.next()
    assert undone["clean"] is False
    assert "iptables: + filter :SOCKLAB-F-t7 -" in undone["diff"]
    assert agent.let_go() == 3


def test_clean_removes_only_our_leftovers(fake_env: dict[str, str]) -> None:
    state = {
        "chains": ["SOCKLAB-F-old", "THEIRS"],
        "rules": ["-A INPUT ! -i lo -j SOCKLAB-F-old", "-A SOCKLAB-F-old -j DROP", "-A INPUT -j THEIRS"],
        "qdiscs": {"eth0": "qdisc tbf 5c0c: dev eth0 root refcnt 2"},
    }
    Path(fake_env["FAKE_NET_STATE"]).write_text(json.dumps(state))
    agent = Agent({"kind": "clean"}, fake_env)
    assert agent.next()["event"] == "cleaned"
    assert agent.let_go() == 0
    left = json.loads(Path(fake_env["FAKE_NET_STATE"]).read_text())
    assert left == {"chains": ["THEIRS"], "rules": ["-A INPUT -j THEIRS"], "qdiscs": {}}


def test_an_armed_fault_says_ready_and_applies_only_when_asked(fake_env: dict[str, str]) -> None:
    agent = Agent({"kind": "loss", "id": "t8", "percent": 20, "armed": True, "direction": "to"}, fake_env)
    ready = agent.next()
    assert ready["event"] == "ready" and "incoming only" in ready["mechanism"]
    assert not _rules(fake_env), "an armed fault touched the namespace before it was asked to apply"
    agent.say("apply")
    applied = agent.next()
    assert applied["event"] == "applied" and applied["at"] >= ready["at"]
    assert any("INPUT" in command for command in applied["commands"])
    assert not any("OUTPUT" in command for command in applied["commands"])
    agent.say("undo")
    assert agent.next()["clean"] is True


def test_an_armed_fault_whose_holder_goes_away_applies_nothing(fake_env: dict[str, str]) -> None:
    agent = Agent({"kind": "partition", "id": "t9", "armed": True}, fake_env)
    assert agent.next()["event"] == "ready"
    assert agent.let_go() == 0
    assert not _rules(fake_env)


def _rules(env: dict[str, str]) -> list[str]:
    """The fake namespace's iptables rules and chains now."""
    state_file = Path(env["FAKE_NET_STATE"])
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    return [*state.get("rules", []), *state.get("chains", [])]


def test_two_faults_on_one_namespace_each_undo_and_verify_only_their_own(fake_env: dict[str, str]) -> None:
    # A scenario's partition ends while a loss, armed meanwhile, begins; then a loss outlives a partition.
    loss = Agent({"kind": "loss", "id": "o1", "percent": 20, "armed": True}, fake_env)
    assert loss.next()["event"] == "ready"
    partition = Agent({"kind": "partition", "id": "o2"}, fake_env)
    assert partition.next()["event"] == "applied"
    loss.say("apply")
    assert loss.next()["event"] == "applied"
    partition.say("undo")
    undone = partition.next()
    assert undone["clean"] is True and undone["diff"] == [], undone
    assert any("SOCKLAB-F-o1" in rule for rule in _rules(fake_env)), "the partition's undo took the loss's rules"
    loss.say("undo")
    undone = loss.next()
    assert undone["clean"] is True and undone["diff"] == [], undone
    assert not _rules(fake_env)
    assert partition.let_go() == 0 and loss.let_go() == 0


def test_wait_drained_holds_while_a_peer_has_not_acknowledged_and_ends_once_it_has(fake_env: dict[str, str]) -> None:
    # A reader that does not read: its window closes and the writer's kernel holds bytes unacknowledged
    # (what a closed connection's backed-off retransmission holds), on this machine's loopback, via netlink.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        reader = socket.create_connection(("127.0.0.1", port))
        writer, _ = listener.accept()  # the server's end writes, on the port: what a server's answer is
        with writer, reader:
            writer.setblocking(False)
            written = 0
            while True:
                try:
                    written += writer.send(b"x" * 65536)
                except BlockingIOError:
                    break
            held = Agent({"kind": "wait-drained", "port": port, "timeout": 0.5}, fake_env).next()
            assert held["event"] == "timeout" and held["count"] >= 1, held
            got = 0
            reader.settimeout(5)
            while got < written:
                got += len(reader.recv(1 << 20))
            drained = Agent({"kind": "wait-drained", "port": port, "timeout": 5}, fake_env).next()
            assert drained["event"] == "drained" and drained["waited"] < 5, drained

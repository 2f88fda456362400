"""The stack file and what `swarm up` lays over it; pairing client tasks with the lines they printed. No engine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from socklab.swarm.stack import STACK_FILE, StackSettings, client_rows
from socklab.wire.result import ClientResult

PINNED = StackSettings(
    server_image="s:1",
    client_image="c:1",
    clients=5,
    delay=2.0,
    server_constraints=("node.hostname==node1",),
    client_constraints=("node.hostname!=node1",),
    spread_over=2,
)


def _stack_config(settings: StackSettings, tmp_path: Path) -> str:
    """What `docker stack deploy` would deploy: the CLI merges both files itself, without an engine."""
    if shutil.which("docker") is None:
        pytest.skip("the docker CLI is not installed")
    override = tmp_path / "override.json"
    override.write_text(json.dumps(settings.override()))
    env = {**os.environ, **settings.environment(), "DOCKER_HOST": "unix:///nonexistent"}
    done = subprocess.run(
        ["docker", "stack", "config", "-c", str(STACK_FILE), "-c", str(override)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    return done.stdout


def test_the_merged_stack_pins_the_server_and_spreads_the_clients(tmp_path: Path) -> None:
    config = _stack_config(PINNED, tmp_path)
    assert "replicas: 5" in config
    assert "node.hostname==node1" in config and "node.hostname!=node1" in config
    assert "max_replicas_per_node: 3" in config  # 5 clients over 2 nodes: both nodes get some
    assert "image: s:1" in config and "image: c:1" in config
    assert 'SOCKLAB_DELAY: "2"' in config


def test_the_stack_needs_no_ipvs_and_runs_clients_once(tmp_path: Path) -> None:
    config = _stack_config(StackSettings("s:1", "c:1", clients=3, delay=5.0), tmp_path)
    assert config.count("endpoint_mode: dnsrr") == 2  # a virtual IP needs IPVS, which this kernel lacks
    assert "condition: none" in config
    assert "driver: overlay" in config and "attachable: true" in config
    assert "constraints" not in config  # one engine: no placement


def test_without_nodes_to_spread_over_there_is_no_per_node_cap() -> None:
    client = StackSettings("s", "c", clients=3, delay=1.0).override()["services"]["client"]  # type: ignore[index]
    assert client == {"deploy": {"replicas": 3, "placement": {}}}


def _result(host: str, address: str, outcome: str = "ok") -> ClientResult:
    return ClientResult(
        host=host,
        address=address,
        server="10.0.1.9:9736",
        sent=0x41,
        received=0x42 if outcome == "ok" else None,
        connect_seconds=0.01,
        answer_seconds=2.0,
        connected_at=100.0,
        answered_at=102.0,
        attempts=1,
        outcome=outcome,
        exit_code=0 if outcome == "ok" else 3,
    )


def _task(task_id: str, node: str, container: str | None, state: str = "complete", err: str = "") -> dict:
    status: dict = {"State": state, "Err": err}
    if container:
        status["ContainerStatus"] = {"ContainerID": container}
    return {"ID": task_id, "NodeID": node, "Status": status}


def test_each_task_gets_the_line_its_container_printed_and_its_node_name() -> None:
    tasks = [_task("t1" * 10, "n2", "aaaaaaaaaaaa" + "0" * 52), _task("t2" * 10, "n3", "bbbbbbbbbbbb" + "1" * 52)]
    results = [_result("bbbbbbbbbbbb", "10.0.1.3:4000"), _result("aaaaaaaaaaaa", "10.0.1.2:5000")]
    rows = client_rows(tasks, results, {"n2": "node2", "n3": "node3"})
    assert [(r.node, r.result.address if r.result else None) for r in rows] == [
        ("node2", "10.0.1.2:5000"),
        ("node3", "10.0.1.3:4000"),
    ]
    assert all(r.ok and r.interval is not None for r in rows)


def test_a_task_that_printed_nothing_shows_the_swarm_s_reason() -> None:
    tasks = [_task("t3" * 10, "n2", None, state="rejected", err="No such image: c:1")]
    (row,) = client_rows(tasks, [], {"n2": "node2"})
    assert not row.ok and row.interval is None
    assert row.error == "No such image: c:1" and row.state == "rejected"

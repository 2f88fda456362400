"""A lab on the engine as events, live: containers starting and stopping (the docker events API) and every
server's log stream, followed with the engine's timestamps, read line by line (``lines.server_line``).

``LabWatch`` runs two kinds of threads: one reads the engine's events for the lab's run label; one per
started server container follows its log until the container stops (a restarted server gets a new one,
from the moment of its start). Each has its own docker client, so no connection is shared across threads.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import docker
import docker.errors
import requests

from socklab.events.lines import server_line, server_version
from socklab.events.recorder import Recorder
from socklab.events.schema import Kind

JOIN_SECONDS = 5.0  # how long close() waits for a follower to read the last lines of a stopped container


class LabWatch:
    """``watch = LabWatch(recorder, ...); watch.start()`` … ``watch.close()`` (idempotent)."""

    def __init__(
        self,
        recorder: Recorder,
        *,
        label: str,
        role_of: Callable[[str], str | None],
        follows: Callable[[str], bool],
        image_of: Callable[[str], str],
        prefix: str = "",
        probes_from: frozenset[str] = frozenset(),
        on_start: Callable[[str, str], None] | None = None,
    ) -> None:
        """``label``: ``key=value`` that the containers to watch carry; ``role_of``: a container's name ->
        its role (None: not one of ours); ``follows``: whether a role's log is read (the servers');
        ``image_of``: a role's image; ``prefix``: put before each role to name the host; ``probes_from``:
        addresses whose connections are socklab's own readiness checks (``probe`` in their events);
        ``on_start``: told (role, container id) of every start, a restart too (the kernel streams)."""
        self.recorder = recorder
        self.label = label
        self.role_of = role_of
        self.follows = follows
        self.image_of = image_of
        self.prefix = prefix
        self.probes_from = probes_from
        self.on_start = on_start
        self._client = docker.from_env()
        self._stream: Any = None
        self._threads: list[threading.Thread] = []
        self._followers: list[threading.Thread] = []
        self._streams: list[Any] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._followed: set[str] = set()

    def start(self) -> LabWatch:
        # `since` now: without it the engine would replay the events it still holds.
        self._stream = self._client.events(
            decode=True, since=f"{time.time():.9f}", filters={"type": "container", "label": self.label}
        )
        thread = threading.Thread(target=self._events, name=f"socklab-events-{self.label}", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def close(self) -> None:
        """Stop reading the engine's events; give each follower a moment to read its container's last lines."""
        if self._closed.is_set():
            return
        deadline = time.monotonic() + JOIN_SECONDS
        for thread in list(self._followers):
            thread.join(max(0.0, deadline - time.monotonic()))
        self._closed.set()
        with self._lock:
            streams = [self._stream, *self._streams]
        for stream in streams:
            if stream is not None:
                with contextlib.suppress(Exception):
                    stream.close()
        for thread in self._threads:
            thread.join(1.0)
        with contextlib.suppress(Exception):
            self._client.close()

    # --- the engine's events ------------------------------------------------------------------------
    def _events(self) -> None:
        try:
            for event in self._stream:
                self._on_event(event)
        except (requests.exceptions.RequestException, docker.errors.DockerException, OSError, ValueError):
            pass  # the stream was closed (close()) or the engine went away: the lab itself will say so

    def _on_event(self, event: dict[str, Any]) -> None:
        action = str(event.get("Action") or event.get("status") or "")
        attributes = event.get("Actor", {}).get("Attributes", {})
        role = self.role_of(str(attributes.get("name", "")))
        if role is None:
            return
        when = int(event.get("timeNano") or 0) / 1e9 or time.time()
        host = self.prefix + role
        if action == "start":
            image = str(attributes.get("image", "")) or self.image_of(role)
            self.recorder.emit(Kind.CONTAINER_STARTED, host, t=when, role=role, image=image)
            if self.on_start is not None:
                self.on_start(role, str(event.get("id")))
            if self.follows(role):
                # A restarted server: its log from this start on (the lines before were read already).
                again = role in self._followed
                self._followed.add(role)
                self._follow(str(event.get("id")), role, when if again else None)
        elif action == "die":
            code = attributes.get("exitCode")
            self.recorder.emit(
                Kind.CONTAINER_STOPPED, host, t=when, role=role, exit_code=None if code is None else int(code)
            )
        elif action in ("pause", "unpause"):  # frozen, not stopped: the container keeps its state
            kind = Kind.CONTAINER_STOPPED if action == "pause" else Kind.CONTAINER_STARTED
            self.recorder.emit(kind, host, t=when, role=role, image=self.image_of(role), state=action)

    # --- a server's log -----------------------------------------------------------------------------
    def _follow(self, container_id: str, role: str, since: float | None) -> None:
        thread = threading.Thread(
            target=self._read_log, args=(container_id, role, since), name=f"socklab-log-{role}", daemon=True
        )
        with self._lock:
            self._followers.append(thread)
        thread.start()

    def _read_log(self, container_id: str, role: str, since: float | None) -> None:
        host = self.prefix + role
        version = self.image_of(role)
        client = docker.from_env()
        try:
            container = client.containers.get(container_id)
            stream = container.logs(stream=True, follow=True, timestamps=True, since=since)
            with self._lock:
                self._streams.append(stream)
            pending = b""
            for chunk in stream:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for raw in lines:
                    version = self._on_line(raw.decode(errors="replace"), host, role, version)
            if pending:
                self._on_line(pending.decode(errors="replace"), host, role, version)
        except (requests.exceptions.RequestException, docker.errors.DockerException, OSError, ValueError):
            pass  # the container is gone (removed at the end of the lab)
        finally:
            with contextlib.suppress(Exception):
                client.close()

    def _on_line(self, line: str, host: str, role: str, version: str) -> str:
        said = server_version(line)
        if said is not None:
            version = said
            self.recorder.emit(Kind.HOST, host, role=role, image=self.image_of(role), version=said)
            return version
        event = server_line(line, version=version)
        if event is not None:
            data = dict(event.data)
            if str(data.get("peer", "")).rpartition(":")[0] in self.probes_from:
                data["probe"] = True  # socklab's readiness check, not a client
            self.recorder.emit(event.kind, host, t=event.t, **data)
        return version

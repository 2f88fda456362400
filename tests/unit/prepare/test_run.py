"""Preparing a set: what is there is only checked, what is missing is made once, in order, and each says so."""

from __future__ import annotations

import threading

from socklab.images.errors import MissingTool
from socklab.prepare.catalog import CATALOG, SETS, Context, Prerequisite, expand
from socklab.prepare.run import prepare


class Machine:
    """A made-up machine: which things it has, and which were made, in order."""

    def __init__(self, has: set[str]) -> None:
        self.has = set(has)
        self.made: list[str] = []
        self.lock = threading.Lock()

    def entry(self, name: str, *, after: tuple[str, ...] = (), host: bool = False, fails: bool = False) -> Prerequisite:
        def present(_context: Context) -> bool:
            return name in self.has

        def make(context: Context) -> None:
            if host and not context.install_missing:
                raise MissingTool(f"{name} is missing: sudo apt-get install {name}")
            if fails:
                raise RuntimeError(f"{name} broke")
            with self.lock:
                self.made.append(name)
                self.has.add(name)

        return Prerequisite(name, name, "host" if host else "engine", "tests", present, make, after=after)


def test_every_set_names_entries_of_the_catalog_and_the_demo_builds_only_what_it_runs():
    names = {entry.name for entry in CATALOG}
    assert all(set(members) <= names for members in SETS.values())
    assert [entry.name for entry in expand(["demo"])] == ["compose", "base", "demo-images"]
    # Asking for one entry brings what it needs first, in the catalog's order.
    assert [entry.name for entry in expand(["c-binaries"])] == ["musl-tools", "c-binaries"]


def test_what_is_there_is_only_checked_and_what_is_missing_is_made_after_what_it_needs():
    machine = Machine(has={"base"})
    catalog = [machine.entry("base"), machine.entry("tools"), machine.entry("probes", after=("base", "tools"))]
    outcomes = prepare(["probes"], catalog=catalog)
    assert [(o.name, o.state) for o in outcomes] == [("base", "present"), ("tools", "prepared"), ("probes", "prepared")]
    assert machine.made == ["tools", "probes"]
    assert [o.state for o in prepare(["probes"], catalog=catalog)] == ["present"] * 3  # the second time: nothing


def test_a_host_package_without_consent_is_missing_with_how_to_install_and_what_needs_it_is_skipped():
    machine = Machine(has=set())
    catalog = [machine.entry("musl-tools", host=True), machine.entry("c-binaries", after=("musl-tools",))]
    outcomes = prepare(["c-binaries"], catalog=catalog)
    assert [(o.name, o.state) for o in outcomes] == [("musl-tools", "missing"), ("c-binaries", "skipped")]
    assert "sudo apt-get install musl-tools" in outcomes[0].detail and machine.made == []
    assert [o.state for o in prepare(["c-binaries"], catalog=catalog, install_missing=True)] == ["prepared"] * 2


def test_one_failure_is_reported_and_the_others_still_get_made():
    machine = Machine(has=set())
    catalog = [machine.entry("broken", fails=True), machine.entry("tools")]
    outcomes = prepare(["broken", "tools"], catalog=catalog)
    assert [(o.name, o.state, o.ok) for o in outcomes] == [("broken", "failed", False), ("tools", "prepared", True)]
    assert "RuntimeError: broken broke" in outcomes[0].line()

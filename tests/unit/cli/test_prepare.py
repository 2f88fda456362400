"""``socklab prepare`` as a user runs it: the list of what it prepares, and a name it does not know refused."""

from __future__ import annotations

import subprocess
import sys

from socklab.prepare.catalog import CATALOG


def socklab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "socklab", *args], capture_output=True, text=True, timeout=60)


def test_the_list_names_every_entry_where_it_lives_and_which_sets_prepare_it():
    done = socklab("prepare", "--list")
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines()}
    assert list(rows) == [entry.name for entry in CATALOG]
    assert rows["compose"].split()[1] == "user" and "sets: demo, test" in rows["compose"]
    assert rows["musl-tools"].split()[1] == "host" and "sets: test)" in rows["musl-tools"]


def test_a_name_it_does_not_know_is_refused_with_the_known_ones_and_nothing_prepared():
    done = socklab("prepare", "--for", "demo", "--for", "chromium")
    assert done.returncode == 2
    assert "nothing called chromium to prepare; choose from demo, test, all, musl-tools" in done.stderr
    assert done.stdout == ""

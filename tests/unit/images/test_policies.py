"""What each image keeps and prunes, read from its policy alone (no Docker, no packages)."""

from __future__ import annotations

import ast
import importlib.util
import json
from dataclasses import asdict
from pathlib import Path

import pytest

from socklab.images.policies import BASE_TAG, TOOLS_TAG, base_policy, policy, tools_policy
from socklab.images.policy import matches
from socklab.paths import ROOT

PY = "3.11"
STDLIB = f"usr/lib/python{PY}"
BASE = base_policy(PY)
TOOLS = tools_policy(PY)

# What the lab's programs import, plus what interpreter start-up needs.
LAB_MODULES = [
    *("socket", "selectors", "asyncio", "threading", "argparse", "json"),
    *("dataclasses", "enum", "logging", "typing", "signal", "queue"),
    *("contextlib", "functools", "traceback", "socketserver", "encodings"),
    *("concurrent", "importlib", "re", "collections", "gettext", "locale"),
    *("inspect", "ast", "dis", "tokenize"),
]
# What a sidecar agent in the tools image runs on besides those.
AGENT_MODULES = ["subprocess", "shlex", "time", "os", "ipaddress", "struct"]


@pytest.mark.parametrize("image", [BASE, TOOLS], ids=["base", "tools"])
@pytest.mark.parametrize("module", LAB_MODULES + AGENT_MODULES)
def test_modules_the_lab_imports_are_kept(image, module):
    for path in (f"{STDLIB}/{module}.py", f"{STDLIB}/{module}", f"{STDLIB}/{module}/__init__.py"):
        assert not image.prunes(path), path


@pytest.mark.parametrize(
    "path",
    [
        f"{STDLIB}/asyncio/base_events.py",
        f"{STDLIB}/lib-dynload/_asyncio.cpython-311-x86_64-linux-gnu.so",
        f"{STDLIB}/lib-dynload/_json.cpython-311-x86_64-linux-gnu.so",
        f"{STDLIB}/encodings/utf_8.py",
        f"{STDLIB}/encodings/idna.py",
        f"{STDLIB}/encodings/cp1252.py",
        f"{STDLIB}/logging/handlers.py",
        "usr/share/doc/libc6/copyright",
        f"usr/bin/python{PY}",
        "lib/x86_64-linux-gnu/libc.so.6",
    ],
)
def test_base_keeps(path):
    assert not BASE.prunes(path)


@pytest.mark.parametrize(
    "path",
    [
        f"usr/share/man/man1/python{PY}.1.gz",
        "usr/share/doc/libc6/changelog.Debian.gz",
        "usr/share/lintian/overrides/libc6",
        "usr/lib/x86_64-linux-gnu/gconv",
        f"{STDLIB}/test",
        f"{STDLIB}/idlelib",
        f"{STDLIB}/tkinter",
        f"{STDLIB}/ensurepip",
        f"{STDLIB}/ctypes",
        f"{STDLIB}/sqlite3",
        f"{STDLIB}/ssl.py",
        f"{STDLIB}/sitecustomize.py",
        f"{STDLIB}/json/__pycache__",
        f"{STDLIB}/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so",
        f"{STDLIB}/lib-dynload/_testcapi.cpython-311-x86_64-linux-gnu.so",
        f"{STDLIB}/lib-dynload/_codecs_jp.cpython-311-x86_64-linux-gnu.so",
        f"{STDLIB}/encodings/shift_jis.py",
        f"{STDLIB}/encodings/cp1250.py",
        f"{STDLIB}/asyncio/windows_events.py",
    ],
)
def test_base_prunes(path):
    assert BASE.prunes(path)


def test_tools_prune_the_standard_library_like_the_base():
    samples = [f"{STDLIB}/{name}" for name in ("ssl.py", "email", "sqlite3", "socket.py", "asyncio", "http")]
    assert [TOOLS.prunes(p) for p in samples] == [BASE.prunes(p) for p in samples]


@pytest.mark.parametrize(
    "path",
    [
        f"{STDLIB}/ctypes/__init__.py",  # setns(2) for the kernel observer
        f"{STDLIB}/lib-dynload/_ctypes.cpython-311-x86_64-linux-gnu.so",
        f"{STDLIB}/multiprocessing/context.py",  # pyroute2's config imports it
        "usr/lib/python3/dist-packages/pyroute2/netlink/diag/__init__.py",
        "usr/lib/python3/dist-packages/pyroute2/netlink/nlsocket.py",
        "usr/lib/python3/dist-packages/pyroute2/config/__init__.py",
    ],
)
def test_tools_keep_what_the_kernel_observer_imports_and_the_base_prunes(path):
    assert not TOOLS.prunes(path)
    assert BASE.prunes(path) or "dist-packages" in path


@pytest.mark.parametrize(
    "path",
    [
        "usr/lib/python3/dist-packages/pyroute2/__init__.py",  # imports all of pyroute2 (NDB, sqlite3, ...)
        "usr/lib/python3/dist-packages/pyroute2/ndb/main.py",
        "usr/lib/python3/dist-packages/pyroute2/netlink/rtnl/ifinfmsg/__init__.py",
        f"{STDLIB}/lib-dynload/_ctypes_test.cpython-311-x86_64-linux-gnu.so",
    ],
)
def test_tools_keep_no_more_of_pyroute2_than_the_observer_imports(path):
    assert TOOLS.prunes(path)


TOOL_PROGRAMS = [
    *("bin/ip", "sbin/tc", "bin/ss", "usr/bin/nstat", "usr/bin/tcpdump", "usr/sbin/xtables-nft-multi"),
    "usr/bin/strace",
]


@pytest.mark.parametrize("program", [*TOOL_PROGRAMS, f"usr/bin/python{PY}"])
def test_tools_keep_their_programs_and_check_their_libraries(program):
    assert not TOOLS.prunes(program)
    # Each is an ld.so root: a build fails if any library it links is missing from the image.
    assert matches(program, TOOLS.elf_roots)


@pytest.mark.parametrize(
    "program",
    ["sbin/bridge", "sbin/devlink", "usr/sbin/arpd", "usr/sbin/xtables-legacy-multi", "usr/sbin/iptables-legacy"],
)
def test_tools_drop_programs_nobody_asked_for(program):
    assert TOOLS.prunes(program)


@pytest.mark.parametrize(
    "module", ["libxt_statistic", "libipt_REJECT", "libip6t_REJECT", "libxt_tcp", "libxt_standard"]
)
def test_tools_keep_the_iptables_modules_faults_need(module):
    path = f"usr/lib/x86_64-linux-gnu/xtables/{module}.so"
    assert not TOOLS.prunes(path)
    assert matches(path, TOOLS.elf_roots)  # a module whose libraries are missing fails the build


def test_tools_drop_other_iptables_modules():
    assert TOOLS.prunes("usr/lib/x86_64-linux-gnu/xtables/libxt_TPROXY.so")


def test_iptables_resolves_to_the_nf_tables_backend():
    links = dict(TOOLS.symlinks)
    for name in ("iptables", "iptables-save", "iptables-restore", "ip6tables"):
        assert links[f"usr/sbin/{name}"] == "xtables-nft-multi"
    assert "/usr/sbin" in dict(TOOLS.env)["PATH"].split(":")


def test_tools_run_as_root_with_a_tcpdump_account_and_base_names_the_lab_user():
    assert [a.name for a in TOOLS.accounts] == ["socklab", "tcpdump"]
    assert [(a.name, a.uid, a.home) for a in BASE.accounts] == [("socklab", 10001, "/home/socklab")]


@pytest.mark.parametrize("image", [BASE, TOOLS], ids=["base", "tools"])
def test_package_lists_are_disjoint_from_what_is_dropped(image):
    assert not set(image.packages) & set(image.dropped)
    assert len(set(image.packages)) == len(image.packages)
    assert "libgcc-s1" in image.packages  # dlopen'ed by pthread_exit


def test_tags():
    assert (BASE.tag, TOOLS.tag) == (BASE_TAG, TOOLS_TAG) == ("socklab/base:latest", "socklab/tools:latest")


def test_not_hard_wired_to_one_python():
    other = policy("base", python="3.12")
    text = json.dumps(asdict(other), default=str)
    assert "3.11" not in text
    assert "python3.12-minimal" in other.packages
    assert other.interpreter == "usr/bin/python3.12" and other.stdlib == "usr/lib/python3.12"
    assert other.prunes("usr/lib/python3.12/tkinter") and not other.prunes("usr/lib/python3.12/socket.py")
    assert other.digest() != BASE.digest()


def test_unknown_policy_names_the_known_ones():
    with pytest.raises(KeyError, match="base, tools"):
        policy("nope", python=PY)


def _imports(folder: Path) -> set[str]:
    names: set[str] = set()
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", ["observer", "sidecar"])
def test_what_runs_in_the_tools_image_imports_only_what_it_keeps(package):
    """The observer, the tracer and the fault agent run on the tools image's pruned Python: each module they
    import (and each it imports, for the stdlib) must be there, or the container dies at start."""
    ours = {"observer", "sidecar", "pyroute2", "__future__"}
    for name in sorted(_imports(ROOT / "agents" / package) - ours):
        spec = importlib.util.find_spec(name)  # where this (3.11) interpreter's standard library has it
        assert spec is not None, name
        if spec.origin in (None, "built-in", "frozen"):
            continue
        where = f"{STDLIB}/{spec.origin.split(f'/python{PY}/', 1)[1]}"
        assert not TOOLS.prunes(where), f"agents/{package} imports {name} ({where}), which the tools image prunes"

"""The images socklab builds from Debian packages: the Python base and the network tools sidecar.

``base``  (``socklab/base:latest``): a Python runtime and nothing else, ~15 MB, for the lab's own
          images (Dockerfile.server and Dockerfile.client build FROM it); they run as user 10001.
``tools`` (``socklab/tools:latest``): the same Python (sidecar agents are stdlib Python) plus
          iproute2 (ip, tc, ss, nstat), iptables on its nf_tables backend, tcpdump, strace and
          pyroute2's netlink core (the kernel observer's socket sampler). It runs as root in another
          container's network namespace (``network_mode="container:<id>"`` with NET_ADMIN, and NET_RAW
          for tcpdump), or in its PID namespace with SYS_PTRACE (strace), so faults, captures and
          traces never need tools in the lab's images.
"""

from __future__ import annotations

from collections.abc import Callable

from socklab.images.policy import Account, ImagePolicy
from socklab.images.python_runtime import (
    DEBIAN_KEEP,
    DEBIAN_PRUNE,
    dropped_packages,
    python_packages,
    stdlib_keep,
    stdlib_prune,
)

__all__ = ["BASE_TAG", "LAB_ACCOUNT", "POLICIES", "TAGS", "TOOLS_TAG", "base_policy", "policy", "tools_policy"]

BASE_TAG = "socklab/base:latest"
TOOLS_TAG = "socklab/tools:latest"
#: Where each image goes by default.
TAGS = {"base": BASE_TAG, "tools": TOOLS_TAG}

#: The non-root account the lab's containers run as (``USER 10001:10001`` in the Dockerfiles).
LAB_ACCOUNT = Account("socklab", 10001, "/home/socklab")

_ENV = (("LANG", "C.UTF-8"), ("PYTHONUNBUFFERED", "1"))  # log lines reach `docker logs` at once


def _python_parts(version: str) -> dict[str, tuple[str, ...]]:
    """What every image with Python shares: its packages, pruning, checked objects and links."""
    stdlib = f"usr/lib/python{version}"
    return {
        "packages": python_packages(version),
        "prune": (*DEBIAN_PRUNE, *stdlib_prune(version)),
        "keep": (*DEBIAN_KEEP, *stdlib_keep(version)),
        "elf_roots": (f"usr/bin/python{version}", f"{stdlib}/lib-dynload/*.so"),
        # glibc dlopens it for pthread_exit/pthread_cancel (see python_packages).
        "dlopened": ("lib/*-linux-gnu*/libgcc_s.so.1",),
    }


def base_policy(python: str) -> ImagePolicy:
    """The lab's Python runtime.

    Sourceless: bytecode only (``compileall -b``). Measured on bookworm 3.11.2: 14.8 MB versus 18.7 MB
    with sources, same start-up. The price: tracebacks through standard-library frames show file and
    line but not the source line; the lab's own code is copied in as ``.py`` and keeps full tracebacks.
    """
    parts = _python_parts(python)
    return ImagePolicy(
        name="base",
        tag=TAGS["base"],
        title="socklab base",
        description=(
            f"Minimal Python {python} runtime for the socklab TCP server/client lab, "
            "assembled from Debian bookworm packages without a registry"
        ),
        dropped=dropped_packages(),
        python=python,
        keep_sources=False,
        symlinks=(("usr/bin/python3", f"python{python}"), ("usr/bin/python", f"python{python}")),
        accounts=(LAB_ACCOUNT,),
        folders=(("usr/local/bin", 0o755), ("root", 0o700), ("tmp", 0o1777)),
        env=(("PATH", "/usr/local/bin:/usr/bin:/bin"), *_ENV),
        cmd=("python3",),
        **parts,
    )


#: What the tools image is for, by package. Their libraries follow from what these programs link
#: (``ld.so --list`` proves the list complete at every build); `dropped` says what is left out.
_TOOL_PACKAGES = (
    # iproute2: ip, tc, ss, nstat and the libraries they link (libbpf/libelf, libbsd/libmd, libcap,
    # libmnl, libxtables; ss also libselinux/libpcre2 and libtirpc with its Kerberos chain).
    *("iproute2", "libbpf1", "libelf1", "libbsd0", "libmd0", "libcap2", "libmnl0", "libselinux1"),
    *("libpcre2-8-0", "libtirpc3", "libgssapi-krb5-2", "libkrb5-3", "libk5crypto3", "libkrb5support0"),
    *("libcom-err2", "libkeyutils1"),
    # iptables (xtables-nft-multi, the nf_tables backend) and its match/target modules.
    *("iptables", "libxtables12", "libnftnl11", "libip4tc2", "libip6tc2", "libnetfilter-conntrack3"),
    "libnfnetlink0",
    # tcpdump: libpcap, which links libdbus (and so libsystemd and its compressors), and libcrypto.
    *("tcpdump", "libpcap0.8", "libdbus-1-3", "libsystemd0", "libgcrypt20", "libgpg-error0"),
    *("liblz4-1", "liblzma5", "libzstd1", "libssl3"),
    # /etc/protocols and /etc/services: names for `-p tcp`, ss and tcpdump.
    "netbase",
    # strace (the server's system calls, --kernel) and the libunwind it links for -k.
    *("strace", "libunwind8"),
    # The kernel observer (agents/observer): pyroute2's INET_DIAG sockets, and ctypes (libffi) for setns(2),
    # which Python 3.11's os module lacks.
    *("python3-pyroute2", "libffi8"),
)

_TOOL_DROPPED = {
    "libdb5.3": "only iproute2's arpd, which is pruned",
    "libcap2-bin": "setcap/getcap; the container's capabilities come from Docker",
    "debconf": "maintainer scripts never run in an unpacked root",
    "adduser": "the tcpdump account is written by the builder",
    "python3-psutil": "only pyroute2's NDB, IPDB and ss2, which are pruned",
    "python3-importlib-metadata": "only for a Python older than 3.8",
    "python3": "the interpreter comes from the runtime's own packages (python3.X-minimal)",
}

#: The programs kept; every other program the packages ship goes.
_TOOL_PROGRAMS = (
    *("bin/ip", "bin/ss", "sbin/tc", "usr/bin/nstat", "usr/bin/tcpdump", "usr/sbin/xtables-nft-multi"),
    "usr/bin/strace",
)

#: pyroute2 as the observer uses it: the netlink core and INET_DIAG (``pyroute2.netlink.diag``). Its package
#: ``__init__`` goes too (pyroute2 then imports as a namespace package): it imports every module pyroute2 has,
#: NDB with sqlite3 and IPDB among them, 0.2 s and a dozen pruned standard modules for nothing used here.
_PYROUTE2 = "usr/lib/python3/dist-packages/pyroute2"
_PYROUTE2_KEPT = (
    *("config", "config/__init__.py", "common.py", "netlink", "netlink/__init__.py", "netlink/nlsocket.py"),
    *("netlink/exceptions.py", "netlink/diag", "netlink/diag/__init__.py"),
)

#: What the tools keep of the standard library that the base prunes: ctypes (setns for the observer) and
#: multiprocessing (pyroute2's config module imports it, for names it never calls here).
_TOOL_STDLIB = ("ctypes", "ctypes/*", "lib-dynload/_ctypes.*", "multiprocessing", "multiprocessing/*")

#: iptables match and target modules kept (the rest of the 2 MB of them go): the protocol matches,
#: loss (statistic), resets (REJECT), the usual conntrack/rate/comment matches for marking rules.
_XTABLES_MODULES = (
    *("libxt_standard", "libxt_tcp", "libxt_udp", "libipt_icmp", "libip6t_icmp6", "libxt_statistic"),
    *("libipt_REJECT", "libip6t_REJECT", "libxt_comment", "libxt_conntrack", "libxt_state"),
    *("libxt_multiport", "libxt_limit", "libxt_length", "libxt_mark", "libxt_MARK", "libxt_iprange"),
    *("libxt_u32", "libxt_owner", "libxt_LOG", "libxt_NFLOG"),
)

#: Names under which iptables must resolve to the nf_tables backend (no update-alternatives here).
_NFT_NAMES = (
    *("iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save", "ip6tables-restore"),
    *("iptables-nft", "iptables-nft-save", "iptables-nft-restore", "ip6tables-nft"),
    *("ip6tables-nft-save", "ip6tables-nft-restore"),
)

#: Debian's tcpdump drops root for this user after opening the interface (`-Z root` keeps root).
TCPDUMP_ACCOUNT = Account("tcpdump", 101, "/nonexistent", owns_home=False)


def tools_policy(python: str) -> ImagePolicy:
    """The network tools sidecar: Python plus ip, tc, ss, nstat, iptables (nf_tables), tcpdump, strace and
    pyroute2's netlink diag."""
    parts = _python_parts(python)
    xtables = "usr/lib/*-linux-gnu*/xtables"
    packages = (*parts["packages"], *_TOOL_PACKAGES)
    # The tools need some of what the Python runtime does without (libssl3, liblzma5).
    dropped = {name: why for name, why in {**dropped_packages(), **_TOOL_DROPPED}.items() if name not in packages}
    return ImagePolicy(
        name="tools",
        tag=TAGS["tools"],
        title="socklab tools",
        description=(
            f"Python {python}, iproute2, iptables (nf_tables), tcpdump, strace and pyroute2 for socklab's "
            "sidecars in a container's namespaces, assembled from Debian bookworm packages without a registry"
        ),
        packages=packages,
        dropped=dropped,
        prune=(
            *parts["prune"],
            # Every program but the kept ones (the packages' links to them go too and are re-made).
            *("bin/*", "sbin/*", "usr/bin/*", "usr/sbin/*"),
            f"{xtables}/*",
            # tc's ATM qdisc links libatm (not here); openssl's engines and providers: tcpdump uses
            # libcrypto only to decrypt ESP.
            *("usr/lib/*-linux-gnu*/tc/q_atm.so", "usr/lib/*-linux-gnu*/engines-3"),
            *("usr/lib/*-linux-gnu*/ossl-modules", "usr/include", "usr/share/bash-completion"),
            *("usr/share/iptables", "etc/apparmor.d", "etc/rpc"),
            # pyroute2 but its netlink core and diag, and its pr2modules shim.
            f"{_PYROUTE2}/*",
            "usr/lib/python3/dist-packages/pr2modules",
        ),
        keep=(
            *parts["keep"],
            f"usr/bin/python{python}",
            *_TOOL_PROGRAMS,
            *(f"{xtables}/{name}.so" for name in _XTABLES_MODULES),
            *(f"{_PYROUTE2}/{name}" for name in _PYROUTE2_KEPT),
            *(f"usr/lib/python{python}/{name}" for name in _TOOL_STDLIB),
        ),
        elf_roots=(
            *parts["elf_roots"],
            *_TOOL_PROGRAMS,
            f"{xtables}/*.so",
            "usr/lib/*-linux-gnu*/tc/*.so",
        ),
        dlopened=parts["dlopened"],
        python=python,
        keep_sources=False,
        symlinks=(
            ("usr/bin/python3", f"python{python}"),
            ("usr/bin/python", f"python{python}"),
            *((f"usr/sbin/{name}", "xtables-nft-multi") for name in _NFT_NAMES),
        ),
        accounts=(LAB_ACCOUNT, TCPDUMP_ACCOUNT),
        folders=(("usr/local/bin", 0o755), ("root", 0o700), ("tmp", 0o1777), ("run", 0o755)),
        env=(("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"), *_ENV),
        cmd=("python3",),
    )


#: Every image this module can build, by name.
POLICIES: dict[str, Callable[[str], ImagePolicy]] = {"base": base_policy, "tools": tools_policy}


def policy(name: str, *, python: str) -> ImagePolicy:
    """The policy called *name* for Python *python* ("3.11"); KeyError names the known ones."""
    try:
        factory = POLICIES[name]
    except KeyError:
        raise KeyError(f"no image policy {name!r}; known: {', '.join(POLICIES)}") from None
    return factory(python)

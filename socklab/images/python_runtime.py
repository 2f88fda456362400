"""A CPython runtime from Debian packages, cut down to what a socket lab imports.

Everything here is a function of the Python version ("3.11"), so the builder is not tied to one
interpreter: the Debian package names, the standard library's folder and the bytecode all follow it.
Debian packaging leftovers and glibc's parts that no program here uses are pruned by ``DEBIAN_PRUNE``,
shared by every image.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "DEBIAN_KEEP",
    "DEBIAN_PRUNE",
    "dropped_packages",
    "python_packages",
    "stdlib_keep",
    "stdlib_prune",
]

#: Packaging leftovers and glibc parts no image here uses; copyright files stay (``DEBIAN_KEEP``).
DEBIAN_PRUNE: tuple[str, ...] = (
    "usr/share/man",
    "usr/share/lintian",
    "usr/share/binfmts",
    "usr/share/locale",
    "usr/share/doc/*/*",
    "usr/lib/binfmt.d",
    "etc/ld.so.conf.d",
    # glibc's iconv modules (8 MB): CPython has its own codecs, the tools use none.
    "usr/lib/*-linux-gnu*/gconv",
    "lib/*-linux-gnu*/gconv",
    # Never let stale bytecode shadow the rebuild (Debian ships none).
    "*/__pycache__",
)

#: Licence texts travel with the binaries.
DEBIAN_KEEP: tuple[str, ...] = ("usr/share/doc/*/copyright",)


def python_packages(version: str) -> tuple[str, ...]:
    """The Debian packages of a Python runtime, each proven necessary.

    ``python3.X`` links ``libm``/``libc`` (libc6), ``libz`` (zlib1g) and ``libexpat`` (libexpat1); glibc
    ``dlopen``s ``libgcc_s.so.1`` (libgcc-s1) to unwind a thread in ``pthread_exit``, which CPython calls
    when a daemon thread wakes during interpreter shutdown; without it the process aborts.
    """
    return (
        f"python{version}-minimal",
        f"libpython{version}-minimal",
        f"libpython{version}-stdlib",
        "libc6",
        "zlib1g",
        "libexpat1",
        "libgcc-s1",
    )


def dropped_packages() -> Mapping[str, str]:
    """Packages of a full Debian Python left out: each serves only an extension module pruned anyway."""
    return {
        "libssl3": "only _ssl/_hashlib; the lab speaks plain TCP, hashlib falls back to the built-in "
        "_sha*/_md5/_blake2 (saves ~5.4 MB)",
        "libffi8": "only _ctypes; ctypes is pruned",
        "libbz2-1.0": "only _bz2; bz2 is pruned",
        "liblzma5": "only _lzma; lzma is pruned",
        "libuuid1": "only _uuid; uuid.py falls back to pure Python",
        "libcrypt1": "only _crypt; crypt is deprecated and pruned",
    }


# Names below are relative to the standard library's folder; a folder goes with everything in it.
_NOT_FOR_A_LAB = (
    # Debian's sitecustomize only tries to import apport (not installed).
    "sitecustomize.py",
    # Test suites, GUI, REPL toys and packaging tools.
    *("test", "*/test", "*/tests", "idlelib", "tkinter", "turtledemo", "turtle.py", "ensurepip"),
    *("lib2to3", "pydoc_data", "pydoc.py", "distutils", "_distutils_system_mod.py", "venv", "unittest"),
    *("doctest.py", "__phello__", "__hello__.py", "antigravity.py", "this.py", "_aix_support.py"),
    *("_osx_support.py", "_bootsubprocess.py"),
    # Modules whose C part needs a dropped package, or a library Debian's -minimal/-stdlib lack.
    *("ctypes", "sqlite3", "curses", "dbm", "shelve.py", "ssl.py", "bz2.py", "lzma.py", "crypt.py"),
    "_pydecimal.py",
    # Not a socket lab's business: web, mail and XML protocols and formats (http.server and
    # urllib.request go with them; urllib.parse stays), multiprocessing (the lab uses threads and
    # asyncio), media formats, profilers and code-analysis tools.
    *("email", "xml", "xmlrpc", "html", "http", "wsgiref", "urllib/request.py", "urllib/robotparser.py"),
    *("importlib/metadata", "mailbox.py", "mailcap.py", "mimetypes.py", "imaplib.py", "nntplib.py"),
    *("smtplib.py", "smtpd.py", "ftplib.py", "poplib.py", "telnetlib.py", "cgi.py", "cgitb.py"),
    *("webbrowser.py", "netrc.py", "plistlib.py", "tomllib", "xdrlib.py", "uu.py", "nturl2path.py"),
    *("multiprocessing", "aifc.py", "sunau.py", "wave.py", "chunk.py", "sndhdr.py", "imghdr.py"),
    *("pickletools.py", "_pyio.py", "profile.py", "cProfile.py", "pstats.py", "trace.py", "tabnanny.py"),
    *("pyclbr.py", "zipapp.py", "modulefinder.py"),
    # Windows-only asyncio event loops, and process pools (no multiprocessing).
    *("asyncio/windows_*.py", "asyncio/proactor_events.py", "concurrent/futures/process.py"),
    # The import system always runs from its frozen copy (_frozen_importlib).
    *("importlib/_bootstrap.py", "importlib/_bootstrap_external.py"),
    *("pdb.py", "bdb.py", "difflib.py", "optparse.py", "tarfile.py", "zipfile.py", "sysconfig.py"),
    "_sysconfigdata_*",
    # No tzdata in the image, so zoneinfo could not find any zone anyway.
    "zoneinfo",
    # decimal needs _decimal (dropped: 300 kB) or _pydecimal (dropped); fractions and statistics
    # import decimal.
    *("decimal.py", "fractions.py", "statistics.py"),
    # CJK multibyte codecs (~1 MB with their C helpers) and Windows codecs.
    *("encodings/big5*", "encodings/cp932.py", "encodings/cp949.py", "encodings/cp950.py"),
    *("encodings/euc_*", "encodings/gb*", "encodings/hz.py", "encodings/iso2022_*", "encodings/johab.py"),
    "encodings/shift_jis*",
    # Legacy single-byte code pages (a few common ones are kept: _KEPT_CODECS).
    *("encodings/cp[0-9]*", "encodings/mac_*", "encodings/iso8859_*", "encodings/koi8_*"),
    *("encodings/kz1048.py", "encodings/palmos.py", "encodings/ptcp154.py", "encodings/tis_620.py"),
    *("encodings/hp_roman8.py", "encodings/bz2_codec.py", "encodings/mbcs.py", "encodings/oem.py"),
)

# Extension modules (lib-dynload/NAME*) that go with the Python modules above.
_EXTENSIONS_NOT_FOR_A_LAB = (
    *("_test", "_xx", "xxlimited", "_ctypes", "_curses", "_dbm", "_sqlite3", "_ssl", "_hashlib", "_bz2"),
    *("_lzma", "_uuid", "_crypt", "_decimal", "nis", "readline", "audioop", "ossaudiodev"),
    *("_multiprocessing", "_posixshmem", "_lsprof", "_zoneinfo", "_codecs_", "_multibytecodec"),
)

# The code pages most likely met on a terminal or in a file.
_KEPT_CODECS = ("cp437", "cp1252", "iso8859_1", "iso8859_15")


def stdlib_prune(version: str) -> tuple[str, ...]:
    """Globs (relative to the image root) of the standard library parts a socket lab does not need."""
    stdlib = f"usr/lib/python{version}"
    return (
        # Debian's sitecustomize (apport) lives here too.
        f"etc/python{version}",
        *(f"{stdlib}/{name}" for name in _NOT_FOR_A_LAB),
        *(f"{stdlib}/lib-dynload/{name}*" for name in _EXTENSIONS_NOT_FOR_A_LAB),
    )


def stdlib_keep(version: str) -> tuple[str, ...]:
    """Exceptions to :func:`stdlib_prune`."""
    return tuple(f"usr/lib/python{version}/encodings/{name}.py" for name in _KEPT_CODECS)

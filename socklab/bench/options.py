"""The options of `socklab bench`, and how big each step is in the quick and the full run."""

from __future__ import annotations

from dataclasses import dataclass

from socklab.events.options import RecordOptions
from socklab.images.build import server_versions
from socklab.wire.knobs import option

# Every version but the teaching one (serial), from the one tag table (socklab/images/build.py), in the order
# of the bench's tables: the C references first, then the Python versions from the fastest model down (the
# tag table lists both the other way round).
VERSIONS = tuple(reversed(server_versions(teaching=False)))
REFERENCES = server_versions(source="c")[::-1]
PYTHON_VERSIONS = tuple(v for v in VERSIONS if v in server_versions(source="python"))
HELD_LEVELS = (1_000, 10_000, 100_000)


@dataclass(frozen=True)
class BenchOptions(RecordOptions):
    quick: bool = option(False, "a smaller run (about 2 min) instead of the full one (about 10 min)")
    versions: tuple[str, ...] = option((), f"server versions to measure (default: all of {', '.join(VERSIONS)})")
    output: str = option("docs/bench", "directory for bench.md, bench.json and the PNG plots", metavar="DIR")
    json: bool = option(False, "also print the JSON results on stdout")
    image_prefix: str = option("socklab", "repository prefix of the images: PREFIX/server:VERSION, PREFIX/loadgen:c")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.kernel:
            raise ValueError("--kernel is not for bench: an observed server is slower (strace stops it at each call)")
        unknown = [v for v in self.versions if v not in VERSIONS]
        if unknown:
            raise ValueError(f"unknown version(s) {', '.join(unknown)}; choose from {', '.join(VERSIONS)}")

    @property
    def chosen(self) -> tuple[str, ...]:
        """The versions to measure, always with both references (every ratio needs them)."""
        wanted = set(self.versions or VERSIONS) | set(REFERENCES)
        return tuple(v for v in VERSIONS if v in wanted)


@dataclass(frozen=True)
class Sizes:
    """How much each step does; the quick run fits in 2 minutes, the full one in 10."""

    rate_rounds: int  # rounds over every version, interleaved; each figure is the median over rounds
    rate_seconds: float  # closed-loop window per version and round
    rate_threads: int
    rate_concurrency: int
    latency_rate: float  # open-loop exchanges per second
    latency_seconds: float
    held_levels: tuple[int, ...]
    held_versions: tuple[str, ...]  # empty: every version
    held_delay: float
    startup_runs: int
    compose_fifty: bool


# The quick run holds 10,000 clients on the two epoll versions only (fork and thread need ~30 s there).
# 2 × 256 in flight: at 2 × 64 the closed loop was bound by its own round trips (c-epoll 28,749 conn/s with
# a core idle; 46,698 at 2 × 256, and tcpkali reached more still), which is the loader, not the server.
QUICK = Sizes(1, 1.5, 2, 256, 500.0, 1.0, (10_000,), ("c-epoll", "epoll"), 5.0, 1, False)
FULL = Sizes(3, 1.5, 2, 256, 500.0, 3.0, HELD_LEVELS, (), 5.0, 3, True)


def sizes_for(quick: bool) -> Sizes:
    """The sizes a run uses: what the bench runs and what its report says it ran are one choice."""
    return QUICK if quick else FULL

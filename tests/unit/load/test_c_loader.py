import pytest

from socklab.load.c_loader import CLIENTS_PER_LOADER, DESCRIPTOR_CAP, LoadPlan, LoadResult, loaders_for, merge


def result(ok: int, samples: list[float], started_at: float = 100.0, seconds: float = 5.0, **errors: int) -> LoadResult:
    return LoadResult(
        mode="hold",
        ok=ok,
        answered=ok,
        failed=sum(errors.values()),
        errors=errors,
        seconds=seconds,
        cpu_seconds=0.5,
        latency={"max": max(samples) / 1000},
        started_at=started_at,
        samples_ms=samples,
    )


@pytest.mark.parametrize("clients", [1, 1_000, 18_000, 18_001, 100_000])
def test_held_clients_are_split_under_the_descriptor_cap(clients: int) -> None:
    shares = loaders_for(clients)
    assert sum(shares) == clients
    assert all(0 < share <= CLIENTS_PER_LOADER < DESCRIPTOR_CAP for share in shares)
    assert max(shares) - min(shares) <= 1


def test_plan_arguments_per_mode() -> None:
    closed = LoadPlan("closed", threads=2, concurrency=8, seconds=3).arguments("10.0.0.2", 9736, 0.0)
    assert closed[:2] == ["--server", "10.0.0.2"] and "--concurrency" in closed and "--start-at" not in closed
    hold = LoadPlan("hold", clients=500, samples=True).arguments("10.0.0.2", 9736, 1234.5)
    assert hold[hold.index("--clients") + 1] == "500"
    assert hold[hold.index("--start-at") + 1] == "1234.500"
    assert hold[-1] == "--samples"
    open_loop = LoadPlan("open", rate=250).arguments("10.0.0.2", 9736, 0.0)
    assert open_loop[open_loop.index("--rate") + 1] == "250" and "--tick" not in open_loop
    batched = LoadPlan("open", rate=250, tick=0.004).arguments("10.0.0.2", 9736, 0.0)
    assert batched[batched.index("--tick") + 1] == "0.004"


def test_merge_adds_counts_and_takes_percentiles_from_every_sample() -> None:
    merged = merge(
        [
            result(3, [5000.0, 5001.0, 5002.0], started_at=100.0),
            result(2, [5100.0, 7000.0], started_at=100.5, seconds=7.0, timeout=1),
        ]
    )
    assert (merged.ok, merged.failed, merged.loaders) == (5, 1, 2)
    assert merged.errors == {"timeout": 1}
    assert merged.latency["max"] == 7.0 and merged.latency["p50"] == 5.002
    assert merged.seconds == pytest.approx(7.5)  # first start to the last loader's last answer
    assert not merged.all_ok


def test_result_reads_the_loaders_json() -> None:
    data = {
        "mode": "closed",
        "ok": 10,
        "answered": 12,
        "failed": 0,
        "errors": {"refused": 0, "reset": 0},
        "seconds": 2,
        "cpu_seconds": 0.1,
        "latency_s": {"p50": 0.001, "max": None},
        "started_at": 1.5,
    }
    parsed = LoadResult.from_json(data)
    assert parsed.per_second == 5.0 and parsed.errors == {} and parsed.answered == 12

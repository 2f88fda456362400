import math

from socklab.bench.window import Sample, Sampler, Window


def sampler(samples: list[Sample]) -> Sampler:
    s = Sampler(pid=0, cgroup=None)  # type: ignore[arg-type]
    s.samples = samples
    return s


def test_window_is_cpu_over_the_kernels_connections_in_the_same_interval() -> None:
    w = Window(Sample(10.0, 1.0, 100), Sample(12.0, 1.5, 10_100))
    assert w.seconds == 2.0 and w.connections == 10_000
    assert w.per_second == 5_000
    assert math.isclose(w.cpu_us_per_connection, 50.0)


def test_no_connections_is_undefined_not_zero() -> None:
    w = Window(Sample(0.0, 1.0, 5), Sample(1.0, 2.0, 5))
    assert math.isnan(w.cpu_us_per_connection)


def test_window_takes_only_samples_inside_the_loaders_window() -> None:
    s = sampler([Sample(t / 10, t / 100, t * 10) for t in range(50)])  # 0.0 .. 4.9 s
    w = s.window(1.05, 3.0)
    assert w is not None
    assert w.first.at >= 1.05 and w.last.at <= 3.0
    assert math.isclose(w.first.at, 1.1) and math.isclose(w.last.at, 3.0)
    assert s.window(1.01, 1.09) is None  # no two samples inside: nothing measured, said so

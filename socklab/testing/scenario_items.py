"""Scenario files as pytest items (pytest's ``pytest_collect_file`` pattern for non-Python tests): with
``--socklab-scenarios PATH``, every ``*.scenario.yaml`` under PATH is a file of items, one per server version
(the file's ``lab.server``, or each ``--socklab-image``). An item runs its scenario in a lab of its own
(``socklab.scenarios.runner``); a failure names the probe that broke, its value and tolerance, and shows the
step timeline. A file that does not validate is a collection error with each problem's line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from socklab.scenarios.journal import VersionRun
from socklab.scenarios.loader import ScenarioInvalid, load
from socklab.scenarios.model import Scenario

SUFFIX = ".scenario.yaml"


class ScenarioFailed(AssertionError):
    def __init__(self, run: VersionRun, seed: int) -> None:
        self.run, self.seed = run, seed
        super().__init__(run.verdict())


def wanted(file_path: Path, roots: list[Path]) -> bool:
    return file_path.name.endswith(SUFFIX) and any(file_path == r or r in file_path.parents for r in roots)


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        scenario = load(self.path)  # ScenarioInvalid: a collection error, each problem with its line
        images = list(dict.fromkeys(self.config.getoption("socklab_image"))) or list(scenario.lab.servers)
        for image in images:
            yield ScenarioItem.from_parent(self, name=f"{scenario.name}[{image}]", scenario=scenario, server=image)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ScenarioInvalid):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario: Scenario, server: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.server = server
        self.add_marker(pytest.mark.socklab_scenario)

    def runtest(self) -> None:
        from socklab.scenarios.runner import RunOptions, run_scenario

        client_image = str(self.config.getoption("socklab_client_image")) or None
        journal = run_scenario(self.scenario, options=RunOptions(servers=(self.server,), client_image=client_image))
        (run,) = journal.runs
        self.user_properties.append(("seed", journal.plan.seed))
        if not run.ok:
            raise ScenarioFailed(run, journal.plan.seed)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        error = excinfo.value
        if not isinstance(error, ScenarioFailed):
            return str(super().repr_failure(excinfo))
        run = error.run
        lines = [f"scenario {self.scenario.name!r} against {run.server} (seed {error.seed}):"]
        lines += [f"  {probe.verdict()}" for probe in run.failed_probes]
        lines += [f"  step {step.name} failed: {step.error}" for step in run.failed_steps]
        lines += ["steps (planned, fired):", run.timeline()]
        return "\n".join(lines)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"scenario: {self.name}"

"""Reading a scenario file: YAML with every key's and value's line and column, validated against the
schema (``schema.py``), then built into the model and checked for what a schema cannot say (an ``undo`` of
a fault that does not exist, a swap while the server is under a fault). Every problem is one line:
``FILE:LINE:COLUMN: FIELD: what is wrong; what would be valid``; ``ScenarioInvalid`` carries them all.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from yaml.constructor import SafeConstructor

from socklab.faults.catalog import FAULTS
from socklab.scenarios import checks
from socklab.scenarios.model import (
    ACTIONS,
    Check,
    Clients,
    End,
    Fault,
    LabSpec,
    Probe,
    Scale,
    Scenario,
    Step,
    Swap,
    Target,
    Tolerance,
    Undo,
    Where,
    seconds,
)
from socklab.scenarios.schema import SCENARIO_ONLY_SKIPS, key, scenario_schema
from socklab.wire.knobs import ConfigError

DEFAULT_CLIENT = "socklab/client:latest"
Path_ = tuple[str | int, ...]


class ScenarioInvalid(ConfigError):
    """A scenario file that cannot run; ``problems`` are its lines, each naming file, line and column."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        count = f"{len(problems)} problems" if len(problems) > 1 else "1 problem"
        super().__init__(f"the scenario cannot run ({count}):\n" + "\n".join(problems))


@dataclasses.dataclass
class Positions:
    """Where each value (and each mapping's key) was written, by its path in the data."""

    file: str
    values: dict[Path_, tuple[int, int]] = dataclasses.field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = dataclasses.field(default_factory=dict)

    def at(self, path: Path_, *, key: bool = False) -> Where:
        found = (self.keys if key else self.values).get(path)
        while found is None and path:
            path = path[:-1]
            found = self.values.get(path)
        line, column = found or (1, 1)
        return Where(self.file, line, column)


def field_name(path: Path_) -> str:
    """``("method", 2, "fault")`` -> ``method[2].fault``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f"{'.' if text else ''}{part}"
    return text or "the file"


# --- YAML with positions ------------------------------------------------------------------------------------
def _walk(node: yaml.Node, path: Path_, positions: Positions, problems: list[str]) -> Any:
    mark = node.start_mark
    positions.values[path] = (mark.line + 1, mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        data: dict[str, Any] = {}
        for key_node, value_node in node.value:
            name = SafeConstructor().construct_object(key_node)
            name = str(name)
            here = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if name in data:
                problems.append(f"{positions.file}:{here[0]}:{here[1]}: {field_name((*path, name))}: written twice")
            positions.keys[(*path, name)] = here
            data[name] = _walk(value_node, (*path, name), positions, problems)
        return data
    if isinstance(node, yaml.SequenceNode):
        return [_walk(item, (*path, k), positions, problems) for k, item in enumerate(node.value)]
    return SafeConstructor().construct_object(node)


def read_yaml(text: str, file: str) -> tuple[Any, Positions]:
    positions = Positions(file)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else file
        raise ScenarioInvalid([f"{where}: not YAML: {exc.problem}"]) from exc
    if node is None:
        raise ScenarioInvalid([f"{file}:1:1: the file is empty"])
    problems: list[str] = []
    data = _walk(node, (), positions, problems)
    if problems:
        raise ScenarioInvalid(problems)
    return data, positions


# --- the schema's errors, as a person would say them ---------------------------------------------------------
def _value(error: jsonschema.ValidationError) -> Any:
    """What the failed keyword asked (its value in the schema)."""
    return error.validator_value


def _schema(error: jsonschema.ValidationError) -> dict[str, Any]:
    return error.schema if isinstance(error.schema, dict) else {}


def _unknown(error: jsonschema.ValidationError) -> tuple[Path_, str, list[str], bool] | None:
    """An unknown key: (the object's path, the key, the keys valid there, whether the list is the step's
    action's own); None for any other error."""
    path: Path_ = tuple(error.absolute_path)
    if "propertyNames" in error.absolute_schema_path and error.validator == "enum":
        return path, str(error.instance), [str(v) for v in _value(error)], True
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(_schema(error).get("properties", {}))
        bad = next((k for k in error.instance if k not in allowed), None)
        return None if bad is None else (path, bad, allowed, False)
    return None


def _say(error: jsonschema.ValidationError, positions: Positions) -> str:
    path: Path_ = tuple(error.absolute_path)
    where = positions.at(path)
    name = field_name(path)
    validator, asked = error.validator, _value(error)
    if validator == "required":
        missing = [m for m in asked if isinstance(error.instance, dict) and m not in error.instance]
        return f"{where}: {name}: missing {', '.join(repr(m) for m in missing)}"
    if validator == "enum":
        close = difflib.get_close_matches(str(error.instance), [str(v) for v in asked], n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        choices = ", ".join(str(v) for v in asked)
        return f"{where}: {name}: {error.instance!r} is not one of {choices}{hint}"
    if validator == "oneOf" and len(path) == 2 and path[0] == "method":
        found = [a for a in ACTIONS if isinstance(error.instance, dict) and a in error.instance]
        one = ", ".join(ACTIONS)
        return f"{where}: {name}: a step has exactly one action of {one}; found {', '.join(found) or 'none'}"
    tolerance = {k for s in asked for k in s.get("required", [])} if validator == "anyOf" else set()
    if {"at-least", "at-most"} & tolerance:
        return f"{where}: {name}: a probe needs at-least or at-most"
    if validator == "anyOf" and "pattern" in str(asked):
        return f"{where}: {name}: {error.instance!r} is not a time: 500ms, 3s, 1m or bare seconds"
    bound = {"maximum": "at most", "minimum": "at least", "exclusiveMinimum": "above", "exclusiveMaximum": "below"}
    if validator in bound:
        about = _schema(error).get("description", "")
        return f"{where}: {name}: {error.instance!r} must be {bound[validator]} {asked:g}" + (
            f" ({about})" if about else ""
        )
    return f"{where}: {name}: {error.message}"


def _leaves(errors: list[jsonschema.ValidationError]) -> Iterator[jsonschema.ValidationError]:
    """The errors worth saying: an if/then branch's own errors rather than the umbrella over them."""
    for error in errors:
        if error.validator in ("allOf", "if") and error.context:
            yield from _leaves(list(error.context))
        else:
            yield error


def validate(data: Any, positions: Positions) -> None:
    validator = jsonschema.Draft202012Validator(scenario_schema())
    unknown: dict[tuple[Path_, str], tuple[list[str], bool]] = {}
    said: dict[str, tuple[int, int]] = {}
    errors = list(_leaves(list(validator.iter_errors(data))))
    # A step with two actions (or none) is said once as such: its keys' complaints would only repeat it.
    muddled = {tuple(e.absolute_path) for e in errors if e.validator == "oneOf" and len(e.absolute_path) == 2}
    for error in errors:
        found = _unknown(error)
        if found is not None and found[0] in muddled:
            continue
        if found is not None:
            path, bad, allowed, own = found
            if (path, bad) not in unknown or own:  # the action's own list says more than the step's
                unknown[(path, bad)] = (allowed, own)
            continue
        line = _say(error, positions)
        where = positions.at(tuple(error.absolute_path))
        said.setdefault(line, (where.line, where.column))
    for (path, bad), (allowed, _own) in unknown.items():
        valid = [k for k in allowed if k not in (path[-1:] if path else ())]
        close = difflib.get_close_matches(bad, valid, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        at = positions.at((*path, bad), key=True)
        line = f"{at}: {field_name((*path, bad))}: unknown field '{bad}'{hint} valid here: {', '.join(valid)}"
        said[line] = (at.line, at.column)
    if said:
        raise ScenarioInvalid(sorted(said, key=lambda line: said[line]))


# --- the model -------------------------------------------------------------------------------------------------
def _tolerance(data: dict[str, Any]) -> Tolerance:
    return Tolerance(data.get("at-least"), data.get("at-most"))


def _fault(data: dict[str, Any], where: Where) -> Fault:
    kind = FAULTS[data["fault"]]
    values = {}
    for f in dataclasses.fields(kind.params):
        if key(f.name) in data and f.name not in SCENARIO_ONLY_SKIPS:
            values[f.name] = data[key(f.name)]
    try:
        params = kind.params(**values)
    except ValueError as exc:
        raise ScenarioInvalid([f"{where}: fault {kind.name}: {exc}"]) from exc
    target = Target(str(data.get("target", "server")), data.get("mode"), data.get("value"))
    held = seconds(data["for"]) if "for" in data else None
    return Fault(kind.name, params, target, held)


def _action(data: dict[str, Any], where: Where) -> Any:
    if "clients" in data:
        exchanges = data["clients"].get("exchanges", 1)
        return Clients(data["clients"]["count"], None if exchanges == "continuous" else int(exchanges))
    if "fault" in data:
        return _fault(data, where)
    if "undo" in data:
        return Undo(data["undo"])
    if "swap" in data:
        return Swap(data["swap"])
    if "scale" in data:
        return Scale(data["scale"])
    if "probe" in data:
        return Probe(Check(data["probe"], _tolerance(data), "now", where))
    return End()


def build(data: dict[str, Any], positions: Positions) -> Scenario:
    lab = data["lab"]
    servers = lab["server"] if isinstance(lab["server"], list) else [lab["server"]]
    spec = LabSpec(tuple(servers), lab.get("clients", 3), float(lab.get("delay", 1.0)), lab.get("client-image"))
    steady = tuple(
        Check(c["probe"], _tolerance(c), c.get("over", "wave"), positions.at(("steady-state", k)))
        for k, c in enumerate(data.get("steady-state", []))
    )
    steps = []
    for k, raw in enumerate(data["method"]):
        where = positions.at(("method", k))
        steps.append(Step(k, seconds(raw["at"]), _action(raw, where), raw.get("id"), where))
    ordered = tuple(sorted(steps, key=lambda s: (s.at, s.index)))
    return Scenario(
        name=data["name"],
        lab=spec,
        method=ordered,
        steady_state=steady,
        seed=data.get("seed"),
        description=data.get("description", ""),
        file=positions.file,
    )


def loads(text: str, file: str = "<scenario>") -> Scenario:
    """A scenario from its text; ScenarioInvalid names every problem (file, line, column, field, what is valid)."""
    data, positions = read_yaml(text, file)
    validate(data, positions)
    scenario = build(data, positions)
    problems = checks.problems(scenario)
    if problems:
        raise ScenarioInvalid(problems)
    return scenario


def load(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioInvalid([f"{path}: cannot be read: {exc.strerror or exc}"]) from exc
    return loads(text, str(path))

"""The JSON Schema of a scenario file, generated from the catalogs (faults, probes, server versions).

``socklab scenario schema`` prints it, so that an editor (yaml-language-server's ``# yaml-language-server:
$schema=...``) completes and checks the file; the loader validates every file against it before anything
else. A fault's parameters are its catalog dataclass's fields, spelled as its flags without the dashes
(``jitter-ms``), with their units and bounds.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from socklab.faults.catalog import FAULTS, FaultKind
from socklab.faults.params import Bounds
from socklab.images.build import user_tags
from socklab.scenarios.model import ACTIONS, MODES, OFFSET, OVER
from socklab.scenarios.probes import PROBES

SCHEMA_ID = "https://socklab.invalid/scenario.schema.json"  # an identifier only: nothing is fetched
SCENARIO_ONLY_SKIPS = frozenset({"network"})  # disconnect leaves the lab's own network, never another
TIME = {
    "anyOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": OFFSET.pattern},
    ],
    "description": "a time: 500ms, 3s, 1m, or bare seconds",
}
STEP_KEYS = ("at", "id")
FAULT_KEYS = ("target", "mode", "value", "for")
TOLERANCE_KEYS = ("at-least", "at-most")


def key(field_name: str) -> str:
    """A parameter's key in a scenario: its flag without the dashes (``jitter_ms`` -> ``jitter-ms``)."""
    return field_name.replace("_", "-")


def _param_schema(field: dataclasses.Field[Any]) -> dict[str, Any]:
    bounds: Bounds = field.metadata["bounds"]
    help_text = str(field.metadata.get("help", "")).replace("%%", "%")
    if bounds.choices:
        return {"enum": list(bounds.choices), "description": help_text, "default": field.default}
    schema: dict[str, Any] = {"type": "integer" if field.type == "int" else "number", "description": help_text}
    if bounds.low is not None:
        schema["exclusiveMinimum" if bounds.low_open else "minimum"] = bounds.low
    if bounds.high is not None:
        schema["maximum"] = bounds.high
    if not field.metadata.get("required"):
        schema["default"] = field.default
    return schema


def fault_params(kind: FaultKind) -> dict[str, dict[str, Any]]:
    """A fault's parameters as a scenario spells them: key -> JSON Schema."""
    return {key(f.name): _param_schema(f) for f in dataclasses.fields(kind.params) if f.name not in SCENARIO_ONLY_SKIPS}


def _required_params(kind: FaultKind) -> list[str]:
    return [key(f.name) for f in dataclasses.fields(kind.params) if f.metadata.get("required")]


def _tolerance() -> dict[str, Any]:
    return {
        "at-least": {"type": "number", "description": "the measured value must be at least this"},
        "at-most": {"type": "number", "description": "the measured value must be at most this"},
    }


def _check(*, with_over: bool) -> dict[str, Any]:
    probes = {
        "enum": list(PROBES),
        "description": "; ".join(f"{p.name}: {p.measures} ({p.unit})" for p in PROBES.values()),
    }
    properties: dict[str, Any] = {"probe": probes, **_tolerance()}
    if with_over:
        properties["over"] = {
            "enum": list(OVER),
            "default": "wave",
            "description": "wave: judged on the waves before and after the method; run: over every exchange "
            "of the method too",
        }
    return {
        "type": "object",
        "required": ["probe"],
        "properties": properties,
        "additionalProperties": False,
        "anyOf": [{"required": ["at-least"]}, {"required": ["at-most"]}],
    }


def _actions() -> dict[str, Any]:
    return {
        "clients": {
            "type": "object",
            "description": "count client hosts make exchanges: a wave (exchanges: N, default 1) or until the end "
            "(exchanges: continuous)",
            "required": ["count"],
            "properties": {
                "count": {"type": "integer", "minimum": 1},
                "exchanges": {"anyOf": [{"type": "integer", "minimum": 1}, {"const": "continuous"}], "default": 1},
            },
            "additionalProperties": False,
        },
        "fault": {"enum": list(FAULTS), "description": "a fault by its catalog name (socklab fault --help)"},
        "undo": {"type": "string", "description": "undo the fault whose step has this id"},
        "swap": {"type": "string", "description": "the server image that replaces the one under the alias server"},
        "scale": {"type": "integer", "minimum": 0, "description": "client hosts from now on"},
        "probe": {"enum": list(PROBES), "description": "a check at this moment, on the method's exchanges so far"},
        "end": {"const": True, "description": "the method ends here (in-flight exchanges finish first)"},
    }


def _common() -> dict[str, Any]:
    return {
        "at": {**TIME, "description": "when, from the method's start: 500ms, 3s, 1m or bare seconds"},
        "id": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$", "description": "a name for undo: ID"},
        "target": {
            "type": "string",
            "pattern": "^(server|clients|client-[1-9][0-9]*)$",
            "default": "server",
            "description": "server (whoever holds the alias then), client-N, or clients with a mode",
        },
        "mode": {"enum": list(MODES), "description": "with target clients: one, all, or fixed-percent of value"},
        "value": {"type": "number", "exclusiveMinimum": 0, "maximum": 100, "description": "fixed-percent: %"},
        "for": {**TIME, "description": "how long the fault holds (kill, stop, restart: the downtime)"},
    }


def _rules() -> list[dict[str, Any]]:
    """Which keys go with which action: a fault's own parameters, a probe's tolerance."""
    rules: list[dict[str, Any]] = [{"oneOf": [{"required": [action]} for action in ACTIONS]}]
    for action in ACTIONS:
        if action in ("fault", "probe"):
            continue
        allowed = [*STEP_KEYS, action]
        rules.append({"if": {"required": [action]}, "then": {"propertyNames": {"enum": allowed}}})
    rules.append(
        {
            "if": {"required": ["probe"]},
            "then": {
                "propertyNames": {"enum": [*STEP_KEYS, "probe", *TOLERANCE_KEYS]},
                "anyOf": [{"required": ["at-least"]}, {"required": ["at-most"]}],
            },
        }
    )
    for name, kind in FAULTS.items():
        params = fault_params(kind)
        then: dict[str, Any] = {"propertyNames": {"enum": [*STEP_KEYS, "fault", *FAULT_KEYS, *params]}}
        if params:
            then["properties"] = params
        if required := _required_params(kind):
            then["required"] = required
        rules.append({"if": {"required": ["fault"], "properties": {"fault": {"const": name}}}, "then": then})
    return rules


def step_schema() -> dict[str, Any]:
    every_param = {
        k: {"description": s.get("description", "")} for kind in FAULTS.values() for k, s in fault_params(kind).items()
    }
    return {
        "type": "object",
        "required": ["at"],
        "properties": {**_common(), **_actions(), **_tolerance(), **every_param},
        "additionalProperties": False,
        "allOf": _rules(),
    }


def scenario_schema() -> dict[str, Any]:
    """The whole file's schema (JSON Schema draft 2020-12)."""
    images = {"type": "string", "minLength": 1, "examples": list(user_tags("server", contract_only=False))}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "socklab scenario",
        "description": "a lab, a steady-state hypothesis, a method of timed steps; rollbacks always run",
        "type": "object",
        "required": ["name", "lab", "method"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "description": {"type": "string"},
            "seed": {"type": "integer", "minimum": 0, "description": "every choice socklab makes comes from it"},
            "lab": {
                "type": "object",
                "required": ["server"],
                "additionalProperties": False,
                "properties": {
                    "server": {
                        "anyOf": [images, {"type": "array", "items": images, "minItems": 1}],
                        "description": "a server image, or a list: the scenario runs once per version",
                    },
                    "clients": {"type": "integer", "minimum": 1, "maximum": 50, "default": 3,
                                "description": "client hosts"},
                    "delay": {"type": "number", "minimum": 0, "maximum": 86400, "default": 1.0,
                              "description": "the server's delay, seconds"},
                    "client-image": {"type": "string", "minLength": 1, "default": "socklab/client:latest"},
                },
            },
            "steady-state": {"type": "array", "items": _check(with_over=True)},
            "method": {"type": "array", "items": step_schema(), "minItems": 1},
        },
    }  # fmt: skip

"""``socklab check IMAGE``: one server image (any, foreign ones too) held to the contract, and nothing else
(``--bad-input`` adds the bad-input and limit rules of ``socklab.checks.bad_input``).

Each rule runs in a throwaway lab of its own; a broken rule is named with the sentence that says how, and
the server's log is attached. No benchmark, swarm or experiment: a verdict within a few minutes.
Exit status: 0 (``OK``) every rule kept, 1 (``FAILED``) a rule broken, 6 (``MISSING_IMAGE``) an image is
not on the engine, 3 (``NO_DOCKER``) the engine cannot be used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from socklab.checks.bad_input import BAD_INPUT
from socklab.checks.contract import LOG_TAIL, RULES, RuleResult, check_image
from socklab.cli.command import add_command
from socklab.cli.exit_codes import ExitCode
from socklab.progress import to_stderr
from socklab.wire.knobs import option

RULE_IDS = tuple(rule.id for rule in RULES)
BAD_INPUT_IDS = tuple(rule.id for rule in BAD_INPUT)
EPILOG = f"""rules, in order: {", ".join(f"{r.id} ({r.name})" for r in RULES)}

with --bad-input, then: {", ".join(f"{r.id} ({r.name})" for r in BAD_INPUT)}

exit status: 0 every rule kept, 1 a rule broken, 6 an image missing, 3 no Docker engine

examples:
  socklab check socklab/server:thread
  socklab check my/server:1.0 --fail-fast
  socklab check my/server:1.0 --rule plus-one --rule concurrency --json
  socklab check my/server:1.0 --bad-input
  socklab check my/server:1.0 --kernel      # the same rules with the kernel observed (socklab run --kernel)
"""


@dataclass(frozen=True)
class CheckOptions:
    image: str = option("", "the server image to hold to the contract", metavar="IMAGE", positional=True)
    client_image: str = option("socklab/client:latest", "client image", env="CLIENT_IMAGE")
    rule: tuple[str, ...] = option(
        (), f"only this rule (repeatable; default all: {', '.join(RULE_IDS)}; or one of --bad-input's)"
    )
    bad_input: bool = option(False, f"also the bad-input and limit rules: {', '.join(BAD_INPUT_IDS)}")
    fail_fast: bool = option(False, "stop at the first broken rule")
    json: bool = option(False, "print the verdict as JSON")
    kernel: bool = option(
        False, "observe each rule's lab as --kernel does (sockets, packets, the server's system calls), and count"
    )

    def __post_init__(self) -> None:
        if not self.image:
            raise ValueError("name the server image: socklab check IMAGE")
        unknown = [r for r in self.rule if r not in RULE_IDS + BAD_INPUT_IDS]
        if unknown:
            choices = ", ".join(RULE_IDS + BAD_INPUT_IDS)
            raise ValueError(f"unknown rule(s) {', '.join(unknown)}; choose from {choices}")


def _as_json(image: str, results: list[RuleResult]) -> dict[str, Any]:
    return {
        "image": image,
        "ok": all(r.passed for r in results),
        "rules": [
            {
                "rule": r.rule.id,
                "name": r.rule.name,
                "kept": None if r.not_applicable else r.passed,
                "not_applicable": r.not_applicable or None,
                "seconds": round(r.seconds, 2),
                "broken": r.broken_rule or None,
                "detail": r.violation.detail if r.violation else None,
                "server_log": r.server_log[-LOG_TAIL:] if r.violation else None,
                "kernel_events": dict(r.kernel_events) or None,
            }
            for r in results
        ],
    }


def _first_line(text: str, width: int = 200) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def _print(image: str, client_image: str, results: list[RuleResult]) -> None:
    print(f"{image} against the contract (client {client_image})")
    width = max((len(r.rule.name) for r in results), default=0)
    for r in results:
        detail = "" if r.violation is None else f"  {r.violation.rule}: {_first_line(r.violation.detail)}"
        detail = f"  not applicable: {_first_line(r.not_applicable)}" if r.not_applicable else detail
        if r.kernel_events:
            detail += "  (kernel: " + ", ".join(f"{n} {kind}" for kind, n in r.kernel_events.items()) + " events)"
        print(f"  {r.verdict:<6} {r.rule.name:<{width}} {r.seconds:6.1f} s{detail}")
    for r in results:
        if r.violation is not None:
            print(f"\n--- server log ({r.rule.id}: {r.violation.rule}; last lines) ---")
            print(r.server_log[-LOG_TAIL:].rstrip() or "(the server printed nothing)")
    broken = [r for r in results if not r.passed]
    if broken:
        names = ", ".join(dict.fromkeys(r.broken_rule for r in broken))
        print(f"\n{image} breaks {len(broken)} of {len(results)} rules checked: {names}")
    else:
        skipped = sum(1 for r in results if r.not_applicable)
        also = f"; {skipped} not applicable" if skipped else ""
        print(f"\n{image} keeps all {len(results) - skipped} rules checked{also}")


def run(options: CheckOptions) -> ExitCode:
    if options.rule:
        rules = [r for r in (*RULES, *BAD_INPUT) if r.id in options.rule]
    else:
        rules = [*RULES, *(BAD_INPUT if options.bad_input else ())]
    results = check_image(
        options.image,
        client_image=options.client_image,
        rules=rules,
        fail_fast=options.fail_fast,
        progress=to_stderr("check"),
        kernel=options.kernel,
    )
    if options.json:
        print(json.dumps(_as_json(options.image, results)))
    else:
        _print(options.image, options.client_image, results)
    return ExitCode.OK if all(r.passed for r in results) else ExitCode.FAILED


def register(sub: Any) -> None:
    add_command(
        sub,
        "check",
        "hold one server image (any image) to the contract: each rule kept or broken, the server log attached",
        CheckOptions,
        run,
        epilog=EPILOG,
    )

"""A Chaos Toolkit control: the lab exists for the whole experiment, and goes after it, whatever happened.

    "controls": [{"name": "socklab", "provider": {"type": "python", "module": "socklab.chaostoolkit.control",
                  "arguments": {"server": "socklab/server:fork", "clients": 3, "delay": 1}}}]

Before the experiment: ``start_lab`` with the arguments (``${...}`` configuration substituted). Before each
steady-state hypothesis: a fresh wave, which its probes share. After the experiment (and at the control's
cleanup, which also runs after an interruption): the rollbacks and the lab removed.
"""

from typing import Any

from socklab.chaostoolkit import actions, session

__all__ = ["after_experiment_control", "before_experiment_control", "before_hypothesis_control", "cleanup_control"]


def before_experiment_control(context: Any, **arguments: Any) -> None:
    arguments.pop("configuration", None)
    arguments.pop("secrets", None)
    lab = str(arguments.get("lab", "lab"))
    actions.start_lab(**{k: v for k, v in arguments.items() if k in _START})
    session.get(lab).wave = None


def before_hypothesis_control(context: Any, **arguments: Any) -> None:
    held = session.get(str(arguments.get("lab", "lab")))
    held.wave = held.hosts.wave(held.every_host(), label="hypothesis")


def after_experiment_control(context: Any, state: Any = None, **arguments: Any) -> None:
    session.stop(str(arguments.get("lab", "lab")))


def cleanup_control() -> None:
    session.stop_all()


_START = ("server", "clients", "delay", "client_image", "proxy", "seed", "lab")

"""socklab as a Chaos Toolkit extension: ``chaos run experiment.json`` drives a socklab lab.

Installed with socklab (``pip install socklab``; Chaos Toolkit itself is the experimenter's to install):

- ``socklab.chaostoolkit.control``: a control that starts the lab before the experiment and removes it after
  (also after a failure or Ctrl-C), with its arguments: ``server``, ``clients``, ``delay``, ``client_image``;
- ``socklab.chaostoolkit.actions``: ``start_lab``, ``clients``, ``stop_clients``, ``apply_fault`` (a fault of
  socklab's catalog by name, held ``seconds`` or until ``undo_fault``), ``undo_fault``, ``swap``,
  ``rollback``, ``stop_lab``;
- ``socklab.chaostoolkit.probes``: the scenario probes (``answered``, ``lost``, ``latency_p50``,
  ``latency_p99``, ``server_alive``, ``defunct``, ``exit_codes``), on a wave of exchanges or over the run.

Each activity names its lab (``lab``, ``"lab"`` by default): one process, one chaos run, any number of labs.
An example: scenarios/chaostoolkit/experiment.json; docs/scenarios.md has the story.
"""

from typing import Any

__all__ = ["discover"]


def discover(discover_system: bool = True) -> dict[str, Any]:
    """What ``chaos discover socklab`` lists: the actions and probes (needs chaostoolkit-lib)."""
    from chaoslib.discovery.discover import discover_actions, discover_probes, initialize_discovery_result

    from socklab.images.build import __version__

    discovery: dict[str, Any] = initialize_discovery_result("socklab", __version__, "socklab")
    discovery["activities"].extend(discover_actions("socklab.chaostoolkit.actions"))
    discovery["activities"].extend(discover_probes("socklab.chaostoolkit.probes"))
    return discovery

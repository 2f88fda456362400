"""Scenarios as code: a fault experiment in a file (a lab, a steady-state hypothesis, a method of timed
steps; rollbacks that always run), validated before anything starts, run the same from ``socklab scenario
run``, pytest (``--socklab-scenarios``) and Chaos Toolkit (``socklab.chaostoolkit``). docs/scenarios.md.

- ``model``: the file as frozen dataclasses; ``loader``: YAML with positions, the schema, the checks;
- ``schema``: the JSON Schema from the catalogs; ``checks``: what a schema cannot say;
- ``probes``: the one list of probes; ``plan``: moments and targets from the seed;
- ``scheduler``: timed actions on a monotonic clock; ``method``, ``hosts``, ``book``: the method on a lab,
  its client hosts and its faults; ``runner``: a lab per server version, steady state, rollbacks;
- ``journal``: what happened, as JSON and JUnit XML.
"""

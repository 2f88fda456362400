"""socklab as a pytest plugin: hold any server image to the contract from another project's test suite.

``pip install socklab`` registers the plugin (entry point ``pytest11``, name ``socklab``). ``pytest
--socklab-image IMAGE -p socklab`` runs the contract against IMAGE; the fixtures ``socklab_lab``,
``socklab_server``, ``socklab_clients`` and ``socklab_lab_factory`` let a team write its own checks.
docs/plugin.md has the whole story.
"""

"""The lab as a Docker Swarm stack: on the engine's own swarm, or on a swarm of Docker-in-Docker engines.

One idea per module: ``node_image`` (the DinD node image from Debian packages), ``cluster`` (several engines on
one machine as a context manager, and loading images into them), ``host`` (the engine's own swarm: made and left
only by us, under a lock), ``stack`` (deploy ``stack.yaml``, wait for the clients, read their answers),
``kernel`` (is there IPVS?), ``partition`` (cut the overlay between two nodes, and heal it), ``run``
(``swarm up`` / ``swarm down``).
"""

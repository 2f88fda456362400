"""The lab as a Docker Swarm stack: on the engine's own swarm, or on a swarm of Docker-in-Docker engines.

One idea per module: ``node_image`` (the DinD node image from Debian packages), ``cluster`` (three engines on
one machine as a context manager), ``host`` (the host engine's swarm: made and left only by us, under a lock),
``stack`` (deploy, wait for the clients, read their answers), ``run`` (``swarm up`` / ``swarm down``).
"""

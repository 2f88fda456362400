"""The kernel observer (``--kernel``): what the kernel holds for a lab's hosts, read from outside them.

Stdlib and pyroute2's netlink core, run in the tools image, where the host copies this package
(``/opt/socklab/observer``) as it copies the fault agent. Three programs:

- ``python3 -m observer`` (``watch``): one per lab, in the engine host's PID namespace. It enters each lab
  container's network namespace (``netns``) to make a netlink INET_DIAG socket and an AF_PACKET socket there,
  then samples every socket (``sockets``) and passes on every TCP frame (``capture``) from one loop.
- ``python3 -m observer.trace``: one per server process, in that server's PID namespace: strace, its lines
  parsed (``strace``) into system calls.
- ``python3 -m observer.sockets``: the sockets of the namespace it runs in, one sample (the experiments' and
  the fault agent's reader).

What they print is ``protocol``: one JSON object a line, read by the host (``socklab.kernel``).
"""

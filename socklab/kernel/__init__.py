"""``--kernel``: what the kernel does under a lab, live, as events of the run's log.

Three streams, each of its own kind: ``socket`` (every TCP socket's state and queues, sampled in each host's
network namespace), ``packet`` (every TCP segment, captured in each host's namespace as it passes) and
``syscall`` (the server processes' system calls, strace). The observer and the tracers that make them are
``agents/observer``, run in the tools image; this package starts them for a ``Lab`` (``streams``), as
containers of it (``containers``), and turns what they say into events (``events``). ``sockets`` is the
one-shot reading the experiments and ``socklab trace`` use. docs/kernel.md has the whole story.
"""

"""Small stdlib-only programs the experiments run inside containers (``python -m probes.NAME``).

Each prints its events as JSON lines with wall-clock times (every container reads the same kernel clock),
so the host can line up what several hosts did. They are instruments, not the lab's server and client:
each exposes one knob the lesson talks about (a backlog nobody accepts from, a SIGCHLD disposition, ...).
"""

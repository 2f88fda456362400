"""The socklab server: read one byte, wait, answer that byte plus one, close; one connection at a time
per worker, with the concurrency model (fork, thread, …) chosen at start-up."""

__version__ = "0.1.0"

"""socklab: a Docker-based lab of a TCP server and client in Python."""

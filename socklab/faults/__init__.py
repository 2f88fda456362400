"""Faults on demand: network faults from a sidecar in the target's namespace, process faults through the
docker SDK; each a named, timed, undoable context manager that returns a record of what it did."""

"""The fault agent: runs INSIDE a sidecar container that shares the target's network namespace.

Stdlib only (it is copied into a container of the tools image, which has python3, iproute2 and
iptables). It applies one rule, holds it, removes it itself and checks that the namespace is back to
what it was, so that a fault ends on time even when whoever started it is gone.
"""

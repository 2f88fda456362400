"""The host's own statement of the protocol, to judge what a server answered.

The server and the client each implement the rule in their own protocol module, on purpose: a bug on one
side cannot then hide a bug on the other. This is the third, independent statement, for checks and tests.
"""

from __future__ import annotations


def expected_reply(byte: int) -> int:
    """The byte a correct server answers to ``byte``: plus one, modulo 256."""
    if not 0 <= byte <= 0xFF:
        raise ValueError(f"{byte} is not a byte value")
    return (byte + 1) & 0xFF

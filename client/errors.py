"""What can go wrong for the client, each with its outcome name and exit code.

OSError from sockets is translated into these in ``exchange`` (and only there), with ``from exc``.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # the answer was the character plus one
    CONFIG = 2  # a bad flag or SOCKLAB_* value
    NO_CONNECTION = 3  # could not connect before the connect deadline
    TIMEOUT = 4  # connected, but no answer within the reply timeout
    CLOSED = 5  # the server closed the connection without answering
    WRONG_ANSWER = 6  # the server answered something other than the character plus one


class ClientError(Exception):
    outcome = "error"
    exit_code = ExitCode.NO_CONNECTION


class CouldNotConnect(ClientError):
    outcome = "no-connection"
    exit_code = ExitCode.NO_CONNECTION

    def __init__(self, message: str, attempts: int) -> None:
        super().__init__(message)
        self.attempts = attempts


class NoAnswerInTime(ClientError):
    outcome = "timeout"
    exit_code = ExitCode.TIMEOUT


class ClosedWithoutAnswer(ClientError):
    outcome = "closed"
    exit_code = ExitCode.CLOSED


class WrongAnswer(ClientError):
    outcome = "wrong-answer"
    exit_code = ExitCode.WRONG_ANSWER

"""What `kubectl blame` can fail at, each with its own exit code, so scripts can tell them apart."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2  # argparse's own code for a bad flag
    UNKNOWN_TYPE = 3
    NOT_RECORDED = 4
    UNREACHABLE = 5
    PORT_FORWARD = 6
    COLLECTOR_ERROR = 7
    INTERRUPTED = 130  # as shells report SIGINT


MEANINGS = {
    ExitCode.OK: "ok",
    ExitCode.ERROR: "unexpected answer from the collector",
    ExitCode.USAGE: "bad usage",
    ExitCode.UNKNOWN_TYPE: "unknown resource type",
    ExitCode.NOT_RECORDED: "nothing recorded (object, event or version)",
    ExitCode.UNREACHABLE: "collector unreachable",
    ExitCode.PORT_FORWARD: "port-forward failed (RBAC, no pod, no kubectl)",
    ExitCode.COLLECTOR_ERROR: "the collector answered an error",
    ExitCode.INTERRUPTED: "interrupted",
}


class BlameError(Exception):
    """A failure to report as one line on stderr, exiting with `code`."""

    def __init__(self, message: str, code: ExitCode = ExitCode.ERROR):
        super().__init__(message)
        self.code = code

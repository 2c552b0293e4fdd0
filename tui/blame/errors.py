"""What `kubectl blame` can fail at, each with its own exit code, so scripts can tell them apart."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1  # the collector answered something unexpected
    USAGE = 2  # a bad flag or argument (argparse's own code)
    UNKNOWN_TYPE = 3  # TYPE is no built-in resource and the collector never saw it
    NOT_RECORDED = 4  # the resource, version or event has no recorded history
    UNREACHABLE = 5  # no answer from the collector
    PORT_FORWARD = 6  # kubectl port-forward failed: RBAC, no pod, no kubectl
    COLLECTOR_ERROR = 7  # the collector answered with an error status
    INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


class BlameError(Exception):
    """A failure to report as one line on stderr, exiting with `code`."""

    def __init__(self, message: str, code: ExitCode = ExitCode.ERROR):
        super().__init__(message)
        self.code = code

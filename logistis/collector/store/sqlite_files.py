"""The SQLite store's files, checked before each use of a connection.

SQLite keeps its files open: a database file removed or replaced under the collector would take
every later commit into a file no longer at its path (acknowledged, then gone at the next
start, which opens a new empty database). And it maps its WAL index (`-shm`) into memory: once
that file is made immutable (`chattr +i`), the next write to the mapping kills the process with
SIGBUS, which no error handling can catch. So before each use, the path must still name the
file opened, and the index must not be immutable or append-only; else the use fails with a
StoreError that says which (commits are counted dropped, /readyz is 503). The database and its
WAL are written with write(2), whose failure is an error like a full disk's.

What this cannot do: a change between the check and the write (microseconds) is not seen, and
a SIGBUS then still ends the process (with every thread's traceback on stderr, `collector.logs`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
from pathlib import Path

from logistis.collector.store.protocol import StoreError

# Linux's FS_IOC_GETFLAGS (`lsattr`), and the flags of `chattr +i` and `chattr +a`.
_GET_FLAGS = 0x80086601
_IMMUTABLE = 0x10
_APPEND_ONLY = 0x20


class OpenedFiles:
    """The database file as opened (its device and inode), and a descriptor of its WAL index,
    to read the flags of the file SQLite maps however it is renamed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.index = Path(f"{path}-shm")
        stat = os.stat(path)
        self._identity = (stat.st_dev, stat.st_ino)
        self._index: int | None = None
        with contextlib.suppress(FileNotFoundError):
            self._index = os.open(self.index, os.O_RDONLY | os.O_CLOEXEC)

    def check(self) -> None:
        """Raise StoreError if the database is no longer the file opened, or cannot be
        written without harm."""
        problem = self.problem()
        if problem is not None:
            raise StoreError(problem)

    def problem(self) -> str | None:
        """What is wrong with the files, if anything."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return (
                f"{self.path}: the database file was removed while the collector ran; nothing "
                "more is committed (restart the collector to open a database at that path)"
            )
        if (stat.st_dev, stat.st_ino) != self._identity:
            return (
                f"{self.path}: the database file was replaced while the collector ran; nothing "
                "more is committed into the file it opened (restart it to open the new file)"
            )
        if self._index is not None and _flags(self._index) & (_IMMUTABLE | _APPEND_ONLY):
            return (
                f"{self.index} is immutable or append-only (chattr +i or +a): SQLite would be "
                "killed writing to it; nothing is committed until the flag is cleared"
            )
        return None

    def close(self) -> None:
        if self._index is not None:
            os.close(self._index)
            self._index = None


def _flags(descriptor: int) -> int:
    """The file's attribute flags; none on a file system that keeps none (tmpfs)."""
    try:
        answer = fcntl.ioctl(descriptor, _GET_FLAGS, bytes(4))
    except OSError:
        # ENOTTY and the like: flags that cannot be read cannot be set either.
        return 0
    return int(struct.unpack("i", answer)[0])

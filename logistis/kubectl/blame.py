"""What a command of the plugin works with: its options, the history's client, the terminal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from logistis.client.protocol import HistoryClient
from logistis.kubectl import dump as dumps
from logistis.kubectl.naming import Naming
from logistis.kubectl.options import Options
from logistis.kubectl.terminal import Terminal


@dataclass(frozen=True, slots=True)
class Blame:
    options: Options
    client: HistoryClient
    terminal: Terminal
    environ: Mapping[str, str]
    naming: Naming = field(default_factory=Naming)

    def emit(self, lines: Sequence[str]) -> None:
        for line in lines:
            self.terminal.write(line)

    def emit_comments(self, lines: Sequence[str]) -> None:
        self.emit([self.terminal.fit(line) for line in lines])

    def emit_data(self, data: Any, *, compact: bool = False) -> None:
        self.terminal.write(dumps.dump(data, self.options.output, compact=compact))

    def note(self, line: str) -> None:
        """A line for the reader, not the pipe: stderr."""
        self.terminal.err.write(line + "\n")

"""The repository's tracked files: what a clone of it has, and nothing a checkout left lying."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).parents[2]


def tracked_files(*paths: str) -> list[str]:
    """Paths relative to ROOT, as `git ls-files` lists them (all of them without `paths`)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", *paths],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name]

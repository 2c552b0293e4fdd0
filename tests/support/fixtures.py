"""The captured AdmissionReview requests in testdata/admission."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

FIXTURES = Path(
    os.environ.get("LOGISTIS_FIXTURES", Path(__file__).parents[2] / "testdata/admission")
)


@cache
def fixture_files() -> tuple[Path, ...]:
    files = tuple(sorted(FIXTURES.glob("[0-9][0-9][0-9]-*.json")))
    if not files:
        raise RuntimeError(f"no AdmissionReview fixtures in {FIXTURES} (set LOGISTIS_FIXTURES)")
    return files


def load(name_or_number: str | int) -> dict[str, Any]:
    """A fixture's `{path, headers, body}`, by file name or by its number (59 -> 059-*.json)."""
    prefix = f"{name_or_number:03d}-" if isinstance(name_or_number, int) else name_or_number
    for path in fixture_files():
        if path.name.startswith(prefix):
            return json.loads(path.read_text())
    raise KeyError(name_or_number)


def bodies() -> list[dict[str, Any]]:
    return [json.loads(path.read_text())["body"] for path in fixture_files()]


def index() -> list[dict[str, Any]]:
    return json.loads((FIXTURES / "index.json").read_text())

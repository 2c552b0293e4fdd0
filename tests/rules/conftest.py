"""The real AdmissionReview requests captured from a kube-apiserver, by file number."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

Request = dict[str, Any]


def fixtures_dir() -> Path:
    override = os.environ.get("LOGISTIS_FIXTURES")
    return Path(override) if override else Path(__file__).parents[2] / "testdata/admission"


@pytest.fixture(scope="session")
def requests() -> dict[int, Request]:
    files = sorted(fixtures_dir().glob("[0-9][0-9][0-9]-*.json"))
    assert len(files) == 228, f"expected the 228 captured requests in {fixtures_dir()}"
    return {int(f.name[:3]): json.loads(f.read_text())["body"]["request"] for f in files}

"""How hard the fault tests push: briefly in `make test`, for long under `make soak`.

`tools/soak.py` raises each knob through a `LOGISTIS_SOAK_<NAME>` variable and collects the
figures the tests report into the file named by `LOGISTIS_SOAK_REPORT`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

REPORT = "LOGISTIS_SOAK_REPORT"


def knob(name: str, quick: int) -> int:
    return int(os.environ.get(f"LOGISTIS_SOAK_{name.upper()}", quick))


def report(figure: str, value: float | int | str) -> None:
    """Add one figure to the soak report; without a report file there is nothing to do."""
    path = os.environ.get(REPORT)
    if path:
        with Path(path).open("a") as out:
            out.write(json.dumps({"figure": figure, "value": value}) + "\n")

"""The rules shown in docs/capture-rules.md and examples/config.yaml are valid and do what
they say over the real requests."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from logistis.collector.admission.rules import build_rules

from .conftest import Request

ROOT = Path(__file__).parents[2]
DOC = ROOT / "docs/capture-rules.md"
YAML_BLOCK = re.compile(r"```yaml\n(.*?)```", re.DOTALL)


def documented_capture_sections() -> list[Any]:
    """Each YAML example of the doc as a `capture:` section (fragments are wrapped)."""
    sections = []
    for block in YAML_BLOCK.findall(DOC.read_text()):
        parsed = yaml.safe_load(block)
        sections.append(parsed.get("capture", parsed))
    return sections


@pytest.mark.parametrize("section", documented_capture_sections())
def test_every_documented_example_builds(section: Any, requests: dict[int, Request]) -> None:
    rules = build_rules(section)
    for request in requests.values():
        rules.decide(request)


def test_the_documented_example_records_what_the_doc_says(requests: dict[int, Request]) -> None:
    example = next(s for s in documented_capture_sections() if "team-namespaces" in str(s))
    rules = build_rules(example)
    recorded = {n for n, r in requests.items() if rules.decide(r).record}
    assert len(recorded) == 113
    dropped_status = [n for n, r in requests.items() if rules.decide(r).rule == "controller-status"]
    assert len(dropped_status) == 62


def test_example_config(requests: dict[int, Request]) -> None:
    config = yaml.safe_load((ROOT / "examples/config.yaml").read_text())
    assert config["retention"] == {"maxEventsPerResource": 100, "maxAge": "30d", "maxSize": "1GiB"}
    assert config["redaction"] == {"keyFile": "/data/redaction.key"}
    rules = build_rules(config["capture"])
    decisions = {n: rules.decide(r) for n, r in requests.items()}
    kinds = {n: r["kind"]["kind"] for n, r in requests.items()}
    assert all(not decisions[n].record for n, kind in kinds.items() if kind in ("Lease", "Event"))
    assert all(not decisions[n].record for n, kind in kinds.items() if kind == "TokenRequest")
    assert decisions[194].rule == "controller-status"  # deployment-controller, status
    assert decisions[166].record  # team-a's service account patching status by hand
    assert decisions[59].record  # alice scales
    assert decisions[183].record  # alice deletes
    assert decisions[1].rule == "system-namespaces"  # controller-manager in kube-system

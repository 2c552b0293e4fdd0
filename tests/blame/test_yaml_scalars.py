"""The fast path for scalars in logistis/client/yamltext.py writes exactly what PyYAML writes."""

from __future__ import annotations

import json
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from logistis.client.yamltext import _dumped, _scalar
from tests.support.fixtures import bodies


def reference(value: Any) -> str:
    """What `_scalar` would say without its fast path."""
    _dumped.cache_clear()
    return _dumped(type(value), value)


def scalars(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in [key, *scalars(value)]]
    if isinstance(node, list):
        return [s for item in node for s in scalars(item)]
    return [node]


def test_every_scalar_of_the_fixtures():
    values = {(type(v), v) for body in bodies() for v in scalars(body["request"])}
    assert len(values) > 1000
    for _, value in values:
        assert _scalar(value) == reference(value), value


PLAINISH = st.text(alphabet="abcXYZ019_./- :#'\"yesnoONtrufalsl~", max_size=12)


@given(st.one_of(PLAINISH, st.text(max_size=8), st.integers(), st.booleans(), st.none()))
def test_any_value(value):
    assert _scalar(value) == reference(value)


def test_words_yaml_reads_as_other_types_stay_quoted():
    for word in ("yes", "No", "TRUE", "off", "null", "On", "~", "0x1F", "1:20", ".inf", "12"):
        assert _scalar(word) == json.dumps(word), word
    assert yaml.safe_load(_scalar("value 0")) == "value 0"

"""The notify section's pieces on their own: what a receiver's answer means, how a digest
window spends its allowance, and the rules' own fields beside the capture rules' selectors."""

from __future__ import annotations

import email.utils
import pickle
import time
from collections.abc import Callable

import pytest

from logistis.collector.history.actors import Actor
from logistis.collector.history.provenance import Provenance
from logistis.collector.pipeline.notify.config import (
    Digest,
    NotifyConfigError,
    NotifySettings,
    parse_notify,
)
from logistis.collector.pipeline.notify.delivery import outcome
from logistis.collector.pipeline.notify.matching import Facts, due_items
from logistis.collector.pipeline.notify.outbox import _Window, plan
from logistis.collector.store import OutboxItem


@pytest.mark.parametrize(
    ("status", "sent", "final"),
    [(200, True, True), (204, True, True), (503, False, False), (500, False, False),
     (408, False, False), (429, False, False), (404, False, True), (400, False, True),
     (301, False, True)],
)  # fmt: skip
def test_what_an_answer_means(status: int, sent: bool, final: bool) -> None:
    found = outcome(status, None)
    assert (found.sent, found.final) == (sent, final)


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert outcome(429, "7").retry_after == 7.0
    in_a_minute = email.utils.formatdate(time.time() + 60, usegmt=True)
    assert 55 <= (outcome(503, in_a_minute).retry_after or 0) <= 60
    assert outcome(404, "7").retry_after is None, "a final answer waits for nothing"


def items(count: int) -> list[OutboxItem]:
    return [OutboxItem(i, "chat", "prod", 0, 0) for i in range(count)]


def test_a_digest_window_sends_its_allowance_then_holds_the_rest_to_its_end() -> None:
    digest, window = Digest(events=3, window=60.0), _Window(1_000)
    first = plan(window, digest, items(2), 1_000)
    assert (len(first.alone), first.digest, first.later) == (2, [], [])
    second = plan(window, digest, items(5), 2_000)
    assert (len(second.alone), len(second.later), second.later_ms) == (1, 4, 61_000)
    # At the window's end the held items come due at once: more than three, one digest.
    third = plan(window, digest, items(4), 61_000)
    assert (third.alone, len(third.digest)) == ([], 4)


# Pickled as the settings reach the deriver's process and the webhook workers: the selectors
# are compiled again there, from their source.
@pytest.mark.parametrize("travel", [lambda s: s, lambda s: pickle.loads(pickle.dumps(s))])
def test_rules_select_on_the_events_own_fields_and_the_capture_selectors(
    travel: Callable[[NotifySettings], NotifySettings],
) -> None:
    parsed = parse_notify(
        {
            "sinks": [{"name": "ops", "type": "webhook", "url": "http://127.0.0.1:9/"},
                      {"name": "chat", "type": "slack", "url": "http://127.0.0.1:9/"}],
            "rules": [
                {"name": "hand", "handEdit": True, "namespaces": ["prod-*"], "sinks": ["chat", "ops"]},
                {"name": "people", "actors": ["person"], "sinks": ["ops"]},
                {"name": "gaps", "continuity": ["gap"], "cel": "request.name == 'web'", "sinks": ["ops"]},
                {"name": "sso", "extra": {"acme.io/idp": ["okta"]}, "sinks": ["ops"]},
            ],
        }
    )  # fmt: skip
    settings = travel(parsed)
    person = Provenance(Actor("person", "kubectl"), hand_edit=True)
    request = {"namespace": "prod-eu", "name": "web", "operation": "UPDATE", "userInfo": {}}
    both = due_items(settings.rules, 7, 100, Facts(request, person, "continuous"))
    assert both == [(7, "chat", "hand", 100), (7, "ops", "hand", 100)], "each sink once"
    elsewhere = {**request, "namespace": "dev"}
    assert due_items(settings.rules, 7, 100, Facts(elsewhere, person, None)) == [
        (7, "ops", "people", 100)
    ]
    controller = Provenance(Actor("controller", None))
    assert due_items(settings.rules, 7, 100, Facts(elsewhere, controller, "gap")) == [
        (7, "ops", "gaps", 100)
    ]
    assert due_items(settings.rules, 7, 100, Facts(elsewhere, None, "first")) == []
    signed_in = {**elsewhere, "userInfo": {"extra": {"acme.io/idp": ["okta"]}}}
    assert due_items(settings.rules, 7, 100, Facts(signed_in, None, "first")) == [
        (7, "ops", "sso", 100)
    ]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"sinks": [{"name": "a", "type": "email", "url": "http://x/"}]}, "type must be one of"),
        ({"sinks": [{"name": "a", "type": "slack"}]}, "give url or urlFile"),
        ({"sinks": [{"name": "a", "type": "slack", "url": "ftp://x"}]}, "must start with http"),
        ({"sinks": [{"name": "a", "type": "slack", "url": "http://x/", "keyFile": "/etc/hostname"}]},
         "keyFile signs webhook sinks only"),
        ({"rules": [{"name": "r", "user": ["alice"], "sinks": ["a"]}]}, "unknown key 'user'"),
        ({"delivery": {"retryFirst": "soon"}}, "notify.delivery.retryFirst: 'soon' is not a duration"),
        ({"eventURL": "https://x/events"}, "notify.eventURL: must be a URL with {id}"),
    ],
)  # fmt: skip
def test_a_wrong_section_is_named(section: dict[str, object], message: str) -> None:
    with pytest.raises(NotifyConfigError, match=message.replace("{", r"\{").replace("(", r"\(")):
        parse_notify(section)

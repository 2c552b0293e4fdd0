"""The config file's `notify` section: where notifications go (`sinks`) and which events they
tell of (`rules`), checked whole at start so a typo stops the collector with one line.

    notify:
      eventURL: https://logistis.example/events/{id}   # a link in each message (optional)
      delivery: {retryFirst: 1s, retryMax: 5m, maxAge: 24h, timeout: 10s, lease: 60s, poll: 1s}
      sinks:
        - {name: ops, type: webhook, url: https://..., keyFile: /etc/logistis/ops-key}
        - {name: chat, type: slack, urlFile: /etc/logistis/slack-url, digest: {events: 5, window: 60s}}
      rules:
        - {name: prod-by-hand, namespaces: ["prod-*"], handEdit: true, sinks: [chat]}

A rule selects with the capture rules' selectors (collector/admission/rules.py) and with the event's own
fields, known once the deriver has been past it: `actors` (kinds of actor), `handEdit`,
`continuity`. docs/notifications.md is the reference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from logistis.collector.admission.rules import SELECTORS, CaptureRules, RuleError, selecting
from logistis.collector.errors import UsageError
from logistis.collector.units import parse_duration

SINK_TYPES = ("webhook", "slack", "cloudevents")
# Chat sinks digest bursts unless told otherwise; machine sinks only when told.
CHAT_SINKS = frozenset({"slack"})
ACTOR_KINDS = frozenset({"person", "gitops", "controller", "serviceaccount"})
CONTINUITIES = frozenset({"first", "continuous", "gap", "expected"})
# The event's own fields a rule may select on (beside the capture rules' selectors).
EVENT_FIELDS = ("actors", "handEdit", "continuity")
RULE_KEYS = frozenset({"name", "sinks", "cel", *SELECTORS, *EVENT_FIELDS})
SINK_KEYS = frozenset({"name", "type", "url", "urlFile", "keyFile", "digest", "source"})
DELIVERY_KEYS = frozenset({"retryFirst", "retryMax", "maxAge", "timeout", "lease", "poll"})
SECTION_KEYS = frozenset({"eventURL", "delivery", "sinks", "rules"})


class NotifyConfigError(UsageError, ValueError):
    """The `notify` section cannot be used; the message names what and where."""


@dataclass(frozen=True, slots=True)
class Digest:
    """More than `events` items of one rule within `window` seconds read as one message."""

    events: int = 5
    window: float = 60.0


DEFAULT_DIGEST = Digest()


@dataclass(frozen=True, slots=True)
class Sink:
    name: str
    type: str
    url: str
    key: bytes | None = None
    """HMAC-SHA256 key of the webhook's signature header (its `keyFile`)."""
    digest: Digest | None = None
    source: str = "logistis"
    """The CloudEvents `source` attribute."""


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    sinks: tuple[str, ...]
    selectors: CaptureRules | None
    """The capture rules' selectors, compiled by collector/admission/rules.py (None: none given)."""
    actors: frozenset[str] | None = None
    hand_edit: bool | None = None
    continuity: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """Timing of delivery, in seconds; short ones make tests fast."""

    retry_first: float = 1.0
    retry_max: float = 300.0
    max_age: float = 24 * 3600.0
    """An item still undelivered this long after its event is dropped (and counted)."""
    timeout: float = 10.0
    lease: float = 60.0
    """How long a claimed item is another collector's to leave alone: a collector killed while
    sending gives its items back after this."""
    poll: float = 1.0
    """How often the outbox is read when no pass of the deriver wakes it (retries, other
    collectors' items)."""


@dataclass(frozen=True, slots=True)
class NotifySettings:
    sinks: Mapping[str, Sink] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    delivery: Delivery = field(default_factory=Delivery)
    event_url: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.rules)


def parse_notify(section: Any) -> NotifySettings:
    """The section checked and compiled: URL and key files read, selectors compiled."""
    if section is None:
        return NotifySettings()
    spec = _mapping(section, "notify")
    _known(spec, SECTION_KEYS, "notify")
    sinks = _sinks(spec.get("sinks") or [])
    rules = tuple(
        _rule(rule, f"notify.rules[{index}]", sinks)
        for index, rule in enumerate(_list(spec.get("rules") or [], "notify.rules"))
    )
    _unique([rule.name for rule in rules], "notify rule")
    event_url = spec.get("eventURL")
    if event_url is not None and (not isinstance(event_url, str) or "{id}" not in event_url):
        raise NotifyConfigError("notify.eventURL: must be a URL with {id} in it")
    delivery = _delivery(_mapping(spec.get("delivery") or {}, "notify.delivery"))
    return NotifySettings(sinks, rules, delivery, event_url)


def _sinks(specs: Any) -> dict[str, Sink]:
    sinks = [_sink(spec, f"notify.sinks[{i}]") for i, spec in enumerate(_list(specs, "sinks"))]
    _unique([sink.name for sink in sinks], "notify sink")
    return {sink.name: sink for sink in sinks}


def _sink(spec: Any, position: str) -> Sink:
    spec = _mapping(spec, position)
    name = _name(spec, position)
    label = f"notify sink {name!r}"
    _known(spec, SINK_KEYS, label)
    kind = spec.get("type")
    if kind not in SINK_TYPES:
        raise NotifyConfigError(f"{label}: type must be one of {', '.join(SINK_TYPES)}")
    if ("url" in spec) == ("urlFile" in spec):
        raise NotifyConfigError(f"{label}: give url or urlFile, one of them")
    url = spec["url"] if "url" in spec else _read(spec["urlFile"], label, "urlFile").strip()
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise NotifyConfigError(f"{label}: the URL must start with http:// or https://")
    key = _read(spec["keyFile"], label, "keyFile").strip().encode() if "keyFile" in spec else None
    if key is not None and kind != "webhook":
        raise NotifyConfigError(f"{label}: keyFile signs webhook sinks only")
    digest = spec.get("digest", {} if kind in CHAT_SINKS else None)
    source = spec.get("source", "logistis")
    if not isinstance(source, str) or not source:
        raise NotifyConfigError(f"{label}: source must be a non-empty string")
    return Sink(name, kind, url, key, _digest(digest, label), source)


def _digest(spec: Any, label: str) -> Digest | None:
    if spec is None or spec is False:
        return None
    spec = _mapping(spec, f"{label}: digest")
    _known(spec, frozenset({"events", "window"}), f"{label}: digest")
    events = spec.get("events", DEFAULT_DIGEST.events)
    if not isinstance(events, int) or isinstance(events, bool) or events < 1:
        raise NotifyConfigError(f"{label}: digest.events must be a whole number of at least 1")
    window = spec.get("window", DEFAULT_DIGEST.window)
    return Digest(events, _seconds(window, f"{label}: digest.window"))


def _rule(spec: Any, position: str, sinks: Mapping[str, Sink]) -> Rule:
    spec = _mapping(spec, position)
    name = _name(spec, position)
    label = f"notify rule {name!r}"
    _known(spec, RULE_KEYS, label)
    targets = _strings(spec.get("sinks"), f"{label}: sinks")
    unknown = [target for target in targets if target not in sinks]
    if unknown:
        raise NotifyConfigError(f"{label}: no sink named {', '.join(map(repr, unknown))}")
    selected = {key: value for key, value in spec.items() if key in {"name", "cel", *SELECTORS}}
    try:
        selectors = selecting(selected, position, "notify rule") if len(selected) > 1 else None
    except RuleError as error:
        raise NotifyConfigError(str(error)) from None
    hand_edit = spec.get("handEdit")
    if hand_edit is not None and not isinstance(hand_edit, bool):
        raise NotifyConfigError(f"{label}: handEdit must be true or false")
    return Rule(
        name,
        tuple(targets),
        selectors,
        _among(spec.get("actors"), ACTOR_KINDS, f"{label}: actors"),
        hand_edit,
        _among(spec.get("continuity"), CONTINUITIES, f"{label}: continuity"),
    )


def _among(value: Any, known: frozenset[str], label: str) -> frozenset[str] | None:
    if value is None:
        return None
    values = frozenset(_strings(value, label))
    wrong = values.difference(known)
    if wrong:
        raise NotifyConfigError(
            f"{label}: unknown {', '.join(sorted(wrong))} (known: {', '.join(sorted(known))})"
        )
    return values


def _delivery(spec: Mapping[str, Any]) -> Delivery:
    _known(spec, DELIVERY_KEYS, "notify.delivery")
    names = {"retryFirst": "retry_first", "retryMax": "retry_max", "maxAge": "max_age"}
    given = {
        names.get(key, key): _seconds(value, f"notify.delivery.{key}")
        for key, value in spec.items()
    }
    return Delivery(**given)


def _seconds(value: Any, label: str) -> float:
    """Seconds as a number, or a duration as people write it (`250ms`, `30s`, `5m`, `24h`)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    if isinstance(value, str) and value.endswith("ms") and value[:-2].isdigit():
        return int(value[:-2]) / 1000
    try:
        return parse_duration(str(value)).total_seconds()
    except ValueError:
        raise NotifyConfigError(
            f"{label}: {value!r} is not a duration like 250ms, 30s or 5m"
        ) from None


def _read(path: Any, label: str, key: str) -> str:
    try:
        return Path(str(path)).read_text()
    except OSError as error:
        raise NotifyConfigError(f"{label}: {key} {path}: {error.strerror}") from None


def _name(spec: Mapping[str, Any], position: str) -> str:
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise NotifyConfigError(f"{position}: name must be a non-empty string")
    return name


def _unique(names: Sequence[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise NotifyConfigError(f"{what} {name!r}: the name is used twice")
        seen.add(name)


def _known(spec: Mapping[str, Any], known: frozenset[str], label: str) -> None:
    unknown = sorted(str(key) for key in spec if key not in known)
    if unknown:
        raise NotifyConfigError(
            f"{label}: unknown key {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(sorted(known))})"
        )


def _mapping(value: Any, label: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise NotifyConfigError(f"{label}: must be a mapping")
    return value


def _list(value: Any, label: str) -> list[Any]:
    if not isinstance(value, list):
        raise NotifyConfigError(f"{label}: must be a list")
    return value


def _strings(value: Any, label: str) -> list[str]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise NotifyConfigError(f"{label}: must be a non-empty list of strings")
    return values

"""The collector's configuration: one typed object, built from flags, environment and a YAML file.

Every flag is also an environment variable: `--data-dir` is `LOGISTIS_DATA_DIR`. The YAML file
(`--config`) holds what does not fit on a command line: capture rules, retention, redaction.
Flags win over the file.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

import yaml

from logistis.collector.errors import UsageError
from logistis.collector.history.actors import ConfigError
from logistis.collector.history.gitops import GitOpsSettings, parse_settings
from logistis.collector.pipeline.notify.config import (
    NotifyConfigError,
    NotifySettings,
    parse_notify,
)
from logistis.collector.store.protocol import Retention
from logistis.collector.store.url import StoreURL, StoreURLError
from logistis.collector.units import parse_duration, parse_size
from logistis.version import add_version_flag

ENV_PREFIX = "LOGISTIS_"
DEFAULT_TLS_SECRET = "logistis/logistis-collector-tls"
DEFAULT_WEBHOOK_CONFIGURATION = "logistis"
DEFAULT_APISERVICE = "v1alpha1.logistis.io"
SELECTORS = ("user", "group", "namespace", "kind", "operation")


class SettingsError(UsageError, ValueError):
    """A flag, variable or config value is wrong; the message says which."""


@dataclass(frozen=True, slots=True)
class Listen:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path(".logistis")
    """Where the SQLite database, the redaction key and a generated dev certificate live."""
    store_url: StoreURL | None = None
    """The database holding the history; None: the SQLite file in the data dir."""
    webhook_listen: Listen = Listen("0.0.0.0", 8443)
    """TLS admission endpoint (also serves /healthz and /readyz for kubelet probes)."""
    api_listen: Listen = Listen("127.0.0.1", 8080)
    """Query API, stream, health and metrics: loopback unless deliberately widened."""
    allow_public_api: bool = False
    """Permit a non-loopback --api-listen (the API has no authentication of its own)."""
    tls_cert: Path | None = None
    """Serving certificate; reloaded when the file changes. None: a self-signed dev cert."""
    tls_key: Path | None = None
    tls_self_managed: bool = False
    """Generate and renew the serving certificate in a Secret, patch the webhook's caBundle."""
    tls_secret: str = DEFAULT_TLS_SECRET
    """NAMESPACE/NAME of the Secret that keeps the self-managed certificate."""
    webhook_configuration: str = DEFAULT_WEBHOOK_CONFIGURATION
    """ValidatingWebhookConfiguration whose caBundle is patched (self-managed TLS)."""
    tls_dns_names: tuple[str, ...] = ()
    """DNS names of the self-managed certificate (default: the Service's names)."""
    tls_renew_before: timedelta = timedelta(days=30)
    """Renew the self-managed serving certificate this long before it expires."""
    webhook_token_file: Path | None = None
    """A file holding the webhook's path token: only `/validate/<token>` records, anything else
    is a 403. Self-managed TLS keeps a token in its Secret and needs no file."""
    client_ca_files: tuple[Path, ...] = ()
    """CAs whose client certificates may call the webhook; when set, a caller without one is
    refused (the apiserver presents it through its AdmissionConfiguration kubeconfig)."""
    reuse_port: bool = False
    """Open the webhook port with SO_REUSEPORT, so several collectors on one host share it."""
    drain_seconds: float = 0.0
    """After SIGTERM: unready (/readyz 503) but still answering this long, so endpoints and
    the apiserver move to other replicas before the port closes. 0: stop at once (one
    replica has nowhere to send the traffic)."""
    tls_handshake_timeout_seconds: float = 10.0
    """Longest a TLS handshake may take on the webhook port."""
    idle_timeout_seconds: float = 120.0
    """A connection is closed when no whole request arrives this long after it opened or after
    the last answer; bytes trickled in meanwhile do not extend it."""
    body_timeout_seconds: float = 10.0
    """Longest a request body may take to arrive once its head has."""
    stream_write_timeout_seconds: float = 10.0
    """A stream client that cannot take one batch within this long is disconnected."""
    kube_api: bool = False
    """Serve the history as the aggregated Kubernetes API on the TLS port (`/apis`), trusting the
    apiserver's front proxy as ConfigMap kube-system/extension-apiserver-authentication says."""
    requestheader_client_ca_file: Path | None = None
    """The request-header CA from a file instead of the ConfigMap (implies `kube_api`)."""
    requestheader_allowed_names: tuple[str, ...] = ()
    """Front-proxy certificate CNs accepted with the file (the ConfigMap names its own)."""
    apiservice: str = DEFAULT_APISERVICE
    """APIService whose caBundle self-managed TLS patches when the Kubernetes API is served."""
    kubeconfig: Path | None = None
    """Reach the Kubernetes API (self-managed TLS, the front proxy's ConfigMap) with this
    kubeconfig's current context instead of the pod's service account: a collector outside
    the cluster."""
    config_file: Path | None = None
    """YAML file with `capture`, `retention` and `redaction` sections."""
    capture: Mapping[str, Any] | None = None
    """The `capture` section of the config file (see docs/capture-rules.md)."""
    record_dry_run: bool | None = None
    include: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    exclude: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    redaction_key_file: Path | None = None
    """HMAC key for Secret digests; default: generated once in the data dir."""
    retention: Retention = field(default_factory=Retention)
    gitops: GitOpsSettings = field(default_factory=GitOpsSettings)
    """Who is who beyond the built-in knowledge, and how Argo CD tracks its resources (the
    config file's `gitops` section, docs/api.md)."""
    notify: NotifySettings = field(default_factory=NotifySettings)
    """Notification sinks and rules (the config file's `notify` section,
    docs/notifications.md)."""
    max_body_bytes: int = 3 * 2**20
    """Largest AdmissionReview accepted; the apiserver's own objects stay under ~1.5 MiB."""
    commit_timeout_seconds: float = 2.0
    """Longest a webhook answer waits for its commit before allowing without it."""
    max_commit_batch: int = 512
    """Most events committed in one transaction; 1 is one transaction per request (benchmarks)."""
    heartbeat_interval_seconds: float = 10.0
    """How often the collector writes that it is recording (blind spots are told from them)."""
    log_format: str = "text"
    log_level: str = "info"

    @property
    def database(self) -> Path:
        """The embedded default's SQLite file."""
        return self.data_dir / "logistis.db"

    @property
    def store(self) -> StoreURL:
        return self.store_url or StoreURL.sqlite(self.database)


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _size(value: str, what: str) -> int:
    try:
        return parse_size(value)
    except ValueError as error:
        raise SettingsError(f"{what}: {error}") from None


def _duration(value: str, what: str) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as error:
        raise SettingsError(f"{what}: {error}") from None


def parse_listen(value: str) -> Listen:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise SettingsError(f"{value!r} is not HOST:PORT")
    return Listen(host.strip("[]") or "0.0.0.0", int(port))


_SELECTOR_FLAGS = tuple(
    (f"--{mode}-{selector}", {"metavar": "PATTERN", "action": "append",
     "help": f"{mode} requests by {selector} (glob, or re:REGEX; repeatable)"})
    for selector in SELECTORS
    for mode in ("include", "exclude")
)  # fmt: skip

# Every flag of the collector, in --help order; each is also LOGISTIS_<FLAG> in the environment.
FLAGS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("--data-dir", {"metavar": "DIR", "help": "database, redaction key and dev certificate"}),
    ("--store", {"metavar": "URL", "help": "sqlite://PATH (default: logistis.db in --data-dir) or postgresql://USER@HOST/DB; prefer --store-file or the variable for a URL with a password"}),
    ("--store-file", {"metavar": "FILE", "help": "read the --store URL from this file (a mounted Secret, e.g. CloudNativePG's uri key)"}),
    ("--webhook-listen", {"metavar": "HOST:PORT", "help": "TLS admission endpoint (default 0.0.0.0:8443)"}),
    ("--api-listen", {"metavar": "HOST:PORT", "help": "query API and metrics (default 127.0.0.1:8080)"}),
    ("--allow-public-api", {"action": "store_true", "help": "permit a non-loopback --api-listen"}),
    ("--tls-cert", {"metavar": "FILE", "help": "serving certificate, reloaded on change"}),
    ("--tls-key", {"metavar": "FILE", "help": "its private key"}),
    ("--tls-self-managed", {"action": "store_true", "help": "keep the certificate in a Secret and patch the webhook caBundle"}),
    ("--tls-secret", {"metavar": "NS/NAME", "help": f"Secret for --tls-self-managed (default {DEFAULT_TLS_SECRET})"}),
    ("--webhook-configuration", {"metavar": "NAME", "help": f"ValidatingWebhookConfiguration to patch (default {DEFAULT_WEBHOOK_CONFIGURATION})"}),
    ("--tls-dns-name", {"metavar": "NAME", "action": "append", "help": "DNS name for the self-managed certificate (repeatable)"}),
    ("--tls-renew-before", {"metavar": "DURATION", "help": "renew the self-managed certificate this long before expiry (default 30d)"}),
    ("--webhook-token-file", {"metavar": "FILE", "help": "path token the webhook URL must carry (/validate/TOKEN); self-managed TLS keeps one itself"}),
    ("--client-ca-file", {"metavar": "FILE", "action": "append", "help": "require webhook callers to present a client certificate issued by this CA (repeatable)"}),
    ("--reuse-port", {"action": "store_true", "help": "open the webhook port with SO_REUSEPORT (collectors sharing one port on one host)"}),
    ("--drain-seconds", {"metavar": "SECONDS", "type": float, "help": "after SIGTERM, keep answering this long while unready (default 0; several replicas: 5)"}),
    ("--tls-handshake-timeout", {"metavar": "SECONDS", "type": float, "help": "longest TLS handshake on the webhook port (default 10)"}),
    ("--idle-timeout", {"metavar": "SECONDS", "type": float, "help": "close a connection that sends no whole request this long (default 120)"}),
    ("--body-timeout", {"metavar": "SECONDS", "type": float, "help": "longest wait for a request body after its head (default 10)"}),
    ("--stream-write-timeout", {"metavar": "SECONDS", "type": float, "help": "disconnect a stream client that takes no batch this long (default 10)"}),
    ("--kube-api", {"action": "store_true", "help": "serve the history as the Kubernetes API logistis.io/v1alpha1 on the TLS port"}),
    ("--requestheader-client-ca-file", {"metavar": "FILE", "help": "front-proxy CA for --kube-api (default: from ConfigMap kube-system/extension-apiserver-authentication)"}),
    ("--requestheader-allowed-name", {"metavar": "CN", "action": "append", "help": "front-proxy certificate CN accepted with --requestheader-client-ca-file (repeatable; none: any)"}),
    ("--apiservice", {"metavar": "NAME", "help": f"APIService whose caBundle --tls-self-managed patches (default {DEFAULT_APISERVICE})"}),
    ("--kubeconfig", {"metavar": "FILE", "help": "reach the Kubernetes API with this kubeconfig's current context (default: the pod's service account)"}),
    ("--config", {"metavar": "FILE", "help": "YAML: capture rules, retention, redaction"}),
    ("--record-dry-run", {"action": "store_true", "help": "also record dry-run requests (off: kubectl diff sends one per run)"}),
    *_SELECTOR_FLAGS,
    ("--redaction-key-file", {"metavar": "FILE", "help": "HMAC key for Secret digests"}),
    ("--max-events-per-resource", {"metavar": "N", "type": int, "help": "history kept per resource (default 100)"}),
    ("--max-age", {"metavar": "DURATION", "help": "drop events older than this (e.g. 90d)"}),
    ("--max-size", {"metavar": "SIZE", "help": "keep the database under this size (e.g. 2GiB)"}),
    ("--max-body-size", {"metavar": "SIZE", "help": "largest AdmissionReview accepted (default 3MiB)"}),
    ("--commit-timeout", {"metavar": "SECONDS", "type": float, "help": "longest wait for a commit before allowing anyway (default 2)"}),
    ("--max-commit-batch", {"metavar": "N", "type": int, "help": "most events per transaction (default 512; 1 commits each request alone)"}),
    ("--heartbeat-interval", {"metavar": "SECONDS", "type": float, "help": "how often the collector records that it is recording (default 10)"}),
    ("--log-format", {"choices": ("json", "text"), "help": "default: text on a terminal, json otherwise"}),
    ("--log-level", {"choices": ("debug", "info", "warning", "error"), "help": "default info"}),
)  # fmt: skip


class BriefParser(argparse.ArgumentParser):
    """A usage mistake is the error and where to read more, as kubectl says it: the full usage
    (31 lines) buried the one line that mattered."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\nSee '{self.prog} --help'.\n")


def build_parser() -> argparse.ArgumentParser:
    parser = BriefParser(
        prog="logistis-collector",
        description=(
            "Record every write the kube-apiserver admits: who changed what, where, when and "
            "how. Serves the admission webhook (TLS) and the query API. Every flag can also be "
            "set by an environment variable, shown in brackets."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  logistis-collector --data-dir .logistis          # local, self-signed TLS\n"
            "  LOGISTIS_STORE=postgresql://logistis:PASSWORD@db/logistis logistis-collector\n"
            "  logistis-collector migrate-store --help          # move a history to another store\n"
            "  logistis-collector --config /etc/logistis/config.yaml --tls-self-managed\n"
            "  logistis-collector --exclude-user 'system:serviceaccount:kube-system:*'\n"
        ),
    )
    for flag, options in FLAGS:
        _add(parser, flag, **options)
    add_version_flag(parser, "logistis-collector")
    return parser


def _add(parser: argparse.ArgumentParser, flag: str, **kwargs: Any) -> None:
    env = ENV_PREFIX + flag.lstrip("-").replace("-", "_").upper()
    kwargs["help"] = f"{kwargs.get('help', '')} [{env}]"
    parser.add_argument(flag, **kwargs)


def from_args(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    environ = os.environ if environ is None else environ
    parser = build_parser()
    args = parser.parse_args(argv)
    values = {
        **_from_environment(parser, environ),
        **{k: v for k, v in vars(args).items() if v is not None and v is not False},
    }
    file_config = _load_config(values.get("config"))
    return _settings(values, file_config)


def _from_environment(
    parser: argparse.ArgumentParser, environ: Mapping[str, str]
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for action in parser._actions:
        if not action.option_strings or action.dest in ("help", "version"):
            continue
        env = ENV_PREFIX + action.dest.upper()
        if env not in environ:
            continue
        raw = environ[env]
        if isinstance(action, argparse._StoreTrueAction):
            values[action.dest] = raw.lower() in ("1", "true", "yes", "on")
        elif isinstance(action, argparse._AppendAction):
            values[action.dest] = [v for v in raw.split(",") if v]
        elif action.type is not None:
            try:
                values[action.dest] = action.type(raw)
            except ValueError:
                raise SettingsError(f"{env}: {raw!r} is not valid") from None
        else:
            values[action.dest] = raw
    return values


def _load_config(path: str | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        text = Path(path).read_text()
        loaded = yaml.safe_load(text) or {}
    except OSError as error:
        raise SettingsError(f"--config {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise SettingsError(f"--config {path}: not valid YAML ({error})") from None
    if not isinstance(loaded, dict):
        raise SettingsError(
            f"--config {path}: must be a mapping with capture/retention/redaction/gitops"
        )
    unknown = set(loaded) - {"capture", "retention", "redaction", "gitops", "notify"}
    if unknown:
        raise SettingsError(f"--config {path}: unknown sections {sorted(unknown)}")
    return loaded


def _settings(values: dict[str, Any], config: dict[str, Any]) -> Settings:
    redaction = config.get("redaction") or {}
    key_file = values.get("redaction_key_file") or redaction.get("keyFile")
    tls_cert, tls_key = values.get("tls_cert"), values.get("tls_key")
    if bool(tls_cert) != bool(tls_key):
        raise SettingsError("--tls-cert and --tls-key go together")
    settings = Settings(
        data_dir=Path(values.get("data_dir", ".logistis")),
        store_url=_store_url(values),
        webhook_listen=parse_listen(values.get("webhook_listen", "0.0.0.0:8443")),
        api_listen=parse_listen(values.get("api_listen", "127.0.0.1:8080")),
        allow_public_api=bool(values.get("allow_public_api")),
        tls_cert=Path(tls_cert) if tls_cert else None,
        tls_key=Path(tls_key) if tls_key else None,
        tls_self_managed=bool(values.get("tls_self_managed")),
        tls_secret=values.get("tls_secret", DEFAULT_TLS_SECRET),
        webhook_configuration=values.get("webhook_configuration", DEFAULT_WEBHOOK_CONFIGURATION),
        tls_dns_names=tuple(values.get("tls_dns_name") or ()),
        tls_renew_before=_duration(values.get("tls_renew_before", "30d"), "--tls-renew-before"),
        webhook_token_file=_path(values.get("webhook_token_file")),
        client_ca_files=tuple(Path(f) for f in values.get("client_ca_file") or ()),
        reuse_port=bool(values.get("reuse_port")),
        drain_seconds=float(values.get("drain_seconds", 0.0)),
        tls_handshake_timeout_seconds=float(values.get("tls_handshake_timeout", 10.0)),
        idle_timeout_seconds=float(values.get("idle_timeout", 120.0)),
        body_timeout_seconds=float(values.get("body_timeout", 10.0)),
        stream_write_timeout_seconds=float(values.get("stream_write_timeout", 10.0)),
        kube_api=bool(values.get("kube_api") or values.get("requestheader_client_ca_file")),
        requestheader_client_ca_file=_path(values.get("requestheader_client_ca_file")),
        requestheader_allowed_names=tuple(values.get("requestheader_allowed_name") or ()),
        apiservice=values.get("apiservice", DEFAULT_APISERVICE),
        kubeconfig=_path(values.get("kubeconfig")),
        config_file=Path(values["config"]) if values.get("config") else None,
        capture=config.get("capture"),
        record_dry_run=values.get("record_dry_run") or None,
        include=_selectors(values, "include"),
        exclude=_selectors(values, "exclude"),
        redaction_key_file=Path(key_file) if key_file else None,
        retention=_retention(values, config.get("retention") or {}),
        gitops=_gitops(config.get("gitops")),
        notify=_notify(config.get("notify")),
        max_body_bytes=_size(values.get("max_body_size", "3MiB"), "--max-body-size"),
        commit_timeout_seconds=float(values.get("commit_timeout", 2.0)),
        max_commit_batch=values.get("max_commit_batch", 512),
        heartbeat_interval_seconds=float(values.get("heartbeat_interval", 10.0)),
        log_format=values.get("log_format") or ("text" if sys.stderr.isatty() else "json"),
        log_level=values.get("log_level", "info"),
    )
    namespace, _, name = settings.tls_secret.partition("/")
    if not namespace or not name or "/" in name:
        raise SettingsError(f"--tls-secret {settings.tls_secret!r} must be NAMESPACE/NAME")
    for flag, seconds in (
        ("--commit-timeout", settings.commit_timeout_seconds),
        ("--tls-handshake-timeout", settings.tls_handshake_timeout_seconds),
        ("--idle-timeout", settings.idle_timeout_seconds),
        ("--body-timeout", settings.body_timeout_seconds),
        ("--stream-write-timeout", settings.stream_write_timeout_seconds),
        ("--heartbeat-interval", settings.heartbeat_interval_seconds),
    ):
        if not seconds > 0:
            raise SettingsError(f"{flag} must be positive")
    if not settings.drain_seconds >= 0:
        raise SettingsError("--drain-seconds must not be negative")
    if settings.max_body_bytes < 1:
        raise SettingsError("--max-body-size must be positive")
    if settings.max_commit_batch < 1:
        raise SettingsError("--max-commit-batch must be at least 1")
    return settings


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _store_url(values: dict[str, Any]) -> StoreURL | None:
    text, path = values.get("store"), values.get("store_file")
    if text and path:
        raise SettingsError("--store and --store-file: give one of them")
    return read_store_url(text, path, "--store") if text or path else None


def read_store_url(text: str | None, path: str | None, flag: str) -> StoreURL:
    """A store URL given as `flag` or read from the file of `flag`-file; errors never repeat
    it (it may hold a password)."""
    what = flag
    if path:
        what = f"{flag}-file {path}"
        try:
            text = Path(path).read_text()
        except OSError as error:
            raise SettingsError(f"{what}: {error.strerror}") from None
    try:
        return StoreURL.parse(text or "")
    except StoreURLError as error:
        raise SettingsError(f"{what}: {error}") from None


def _selectors(values: dict[str, Any], mode: str) -> dict[str, tuple[str, ...]]:
    chosen = {}
    for selector in SELECTORS:
        patterns = values.get(f"{mode}_{selector}")
        if patterns:
            chosen[f"{selector}s"] = tuple(patterns)
    return chosen


def _gitops(section: Any) -> GitOpsSettings:
    try:
        return parse_settings(section)
    except ConfigError as error:
        raise SettingsError(str(error)) from None


def _notify(section: Any) -> NotifySettings:
    try:
        return parse_notify(section)
    except NotifyConfigError as error:
        raise SettingsError(str(error)) from None


def _retention(values: dict[str, Any], section: Mapping[str, Any]) -> Retention:
    unknown = set(section) - {"maxEventsPerResource", "maxAge", "maxSize", "interval"}
    if unknown:
        raise SettingsError(f"retention: unknown keys {sorted(unknown)}")
    per_resource = values.get("max_events_per_resource", section.get("maxEventsPerResource", 100))
    if not isinstance(per_resource, int) or per_resource < 1:
        raise SettingsError("max events per resource must be a whole number of at least 1")
    max_age = values.get("max_age", section.get("maxAge"))
    max_size = values.get("max_size", section.get("maxSize"))
    interval = section.get("interval")
    return Retention(
        max_events_per_resource=per_resource,
        max_age=_duration(str(max_age), "max age") if max_age else None,
        max_bytes=_size(str(max_size), "max size") if max_size else None,
        interval_seconds=_duration(str(interval), "retention interval").total_seconds()
        if interval
        else 60.0,
    )

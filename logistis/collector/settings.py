"""The collector's configuration: one typed object, built from flags, environment and a YAML file.

Each field is declared once, with its flag, variable, config-file key, default and help
(`options.py` reads them): `--data-dir` is also `LOGISTIS_DATA_DIR`. The YAML file (`--config`,
`configfile.py`) holds what does not fit on a command line: capture rules, retention, redaction,
gitops, notify. A flag wins over its variable, the variable over the file, the file over the
default.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

from logistis.collector import configfile
from logistis.collector.history.gitops import GitOpsSettings, parse_settings
from logistis.collector.options import (
    Option,
    SettingsError,
    Sources,
    declared,
    dest_of,
    flags_of,
    selector_flags,
    setting,
)
from logistis.collector.pipeline.notify.config import NotifySettings, parse_notify
from logistis.collector.store.protocol import KEEP_PER_RESOURCE, Retention
from logistis.collector.store.url import StoreURL
from logistis.collector.trust.defaults import (
    DEFAULT_RENEW_BEFORE,
    DEFAULT_SECRET,
    DEFAULT_WEBHOOK_CONFIGURATION,
)
from logistis.collector.units import parse_duration, parse_size
from logistis.version import add_version_flag

__all__ = ["DEFAULT_APISERVICE", "Listen", "Settings", "SettingsError", "from_args"]

DEFAULT_APISERVICE = "v1alpha1.logistis.io"
LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True, slots=True)
class Listen:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_listen(value: Any) -> Listen:
    host, sep, port = str(value).rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{value!r} is not HOST:PORT")
    return Listen(host.strip("[]") or "0.0.0.0", int(port))


def _path(value: Any) -> Path | None:
    return Path(value) if value else None


def _seconds(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a number of seconds") from None


def _positive_seconds(value: Any) -> float:
    seconds = _seconds(value)
    if not seconds > 0:
        raise ValueError("must be positive")
    return seconds


def _non_negative_seconds(value: Any) -> float:
    seconds = _seconds(value)
    if not seconds >= 0:
        raise ValueError("must not be negative")
    return seconds


def _at_least_one(value: Any) -> int:
    if isinstance(value, bool) or not (isinstance(value, int) or str(value).isdigit()):
        raise ValueError(f"{value!r} must be a whole number of at least 1")
    if int(value) < 1:
        raise ValueError("must be a whole number of at least 1")
    return int(value)


def _size(value: Any) -> int:
    size = parse_size(str(value))
    if size < 1:
        raise ValueError("must be positive")
    return size


def _duration(value: Any) -> timedelta:
    return parse_duration(str(value))


def _interval(value: Any) -> float:
    return parse_duration(str(value)).total_seconds()


def _namespaced(value: Any) -> str:
    namespace, _, name = str(value).partition("/")
    if not namespace or not name or "/" in name:
        raise ValueError(f"{value!r} must be NAMESPACE/NAME")
    return str(value)


def _one_of(*choices: str) -> Any:
    def choose(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(choices)}")
        return str(value)

    return choose


def _capture(section: Any) -> Mapping[str, Any] | None:
    # build_rules checks it when the runtime opens (docs/capture-rules.md).
    rules: Mapping[str, Any] | None = section
    return rules


def _log_format() -> str:
    return "text" if sys.stderr.isatty() else "json"


@dataclass(frozen=True, slots=True)
class Settings:
    # fmt: off
    data_dir: Path = setting("--data-dir", "database, redaction key and dev certificate",
        Path, Path(".logistis"), metavar="DIR")
    store_url: StoreURL | None = setting("--store", "sqlite://PATH or postgresql://USER@HOST/DB; prefer --store-file or the variable for a URL with a password",
        StoreURL.parse, metavar="URL", shown="logistis.db in --data-dir", from_file=True)
    """The database holding the history; None: the SQLite file in the data dir. `--store-file`
    reads the URL from a file (a mounted Secret, e.g. CloudNativePG's uri key)."""
    webhook_listen: Listen = setting("--webhook-listen", "TLS admission endpoint (also /healthz and /readyz)",
        parse_listen, Listen("0.0.0.0", 8443), metavar="HOST:PORT")
    api_listen: Listen = setting("--api-listen", "query API, stream, health and metrics: loopback unless deliberately widened",
        parse_listen, Listen("127.0.0.1", 8080), metavar="HOST:PORT")
    allow_public_api: bool = setting("--allow-public-api", "permit a non-loopback --api-listen (the API has no authentication of its own)",
        bool, False, kind="switch")
    tls_cert: Path | None = setting("--tls-cert", "serving certificate, reloaded on change (none: a self-signed dev certificate)",
        _path, metavar="FILE")
    tls_key: Path | None = setting("--tls-key", "its private key", _path, metavar="FILE")
    tls_self_managed: bool = setting("--tls-self-managed", "keep the certificate in a Secret and patch the webhook caBundle",
        bool, False, kind="switch")
    tls_secret: str = setting("--tls-secret", "Secret for --tls-self-managed", _namespaced,
        DEFAULT_SECRET, metavar="NS/NAME")
    webhook_configuration: str = setting("--webhook-configuration", "ValidatingWebhookConfiguration whose caBundle --tls-self-managed patches",
        str, DEFAULT_WEBHOOK_CONFIGURATION, metavar="NAME")
    tls_dns_names: tuple[str, ...] = setting("--tls-dns-name", "DNS name for the self-managed certificate (repeatable; none: the Service's names)",
        str, metavar="NAME", kind="list")
    tls_renew_before: timedelta = setting("--tls-renew-before", "renew the self-managed certificate this long before expiry",
        _duration, DEFAULT_RENEW_BEFORE, metavar="DURATION", shown="30d")
    webhook_token_file: Path | None = setting("--webhook-token-file", "path token the webhook URL must carry (/validate/TOKEN), anything else is a 403; self-managed TLS keeps one itself",
        _path, metavar="FILE")
    client_ca_files: tuple[Path, ...] = setting("--client-ca-file", "require webhook callers to present a client certificate issued by this CA (repeatable)",
        Path, metavar="FILE", kind="list")
    reuse_port: bool = setting("--reuse-port", "open the webhook port with SO_REUSEPORT (collectors sharing one port on one host)",
        bool, False, kind="switch")
    workers: int = setting("--workers", "processes answering the webhook port (SO_REUSEPORT); above 1 this one writes and serves the API while they answer",
        _at_least_one, 1, metavar="N")
    drain_seconds: float = setting("--drain-seconds", "after SIGTERM, keep answering this long while unready (several replicas: 5)",
        _non_negative_seconds, 0.0, metavar="SECONDS", shown="0")
    """0: stop at once (one replica has nowhere to send the traffic)."""
    tls_handshake_timeout_seconds: float = setting("--tls-handshake-timeout", "longest TLS handshake on the webhook port",
        _positive_seconds, 10.0, metavar="SECONDS")
    idle_timeout_seconds: float = setting("--idle-timeout", "close a connection that sends no whole request this long",
        _positive_seconds, 120.0, metavar="SECONDS")
    """Bytes trickled in meanwhile do not extend it."""
    body_timeout_seconds: float = setting("--body-timeout", "longest wait for a request body after its head",
        _positive_seconds, 10.0, metavar="SECONDS")
    stream_write_timeout_seconds: float = setting("--stream-write-timeout", "disconnect a stream client that takes no batch this long",
        _positive_seconds, 10.0, metavar="SECONDS")
    kube_api: bool = setting("--kube-api", "serve the history as the Kubernetes API logistis.io/v1alpha1 on the TLS port",
        bool, False, kind="switch")
    """Trusting the apiserver's front proxy as ConfigMap
    kube-system/extension-apiserver-authentication says (or the file below: implies it)."""
    requestheader_client_ca_file: Path | None = setting("--requestheader-client-ca-file", "front-proxy CA for --kube-api (default: from ConfigMap kube-system/extension-apiserver-authentication)",
        _path, metavar="FILE")
    requestheader_allowed_names: tuple[str, ...] = setting("--requestheader-allowed-name", "front-proxy certificate CN accepted with --requestheader-client-ca-file (repeatable; none: any)",
        str, metavar="CN", kind="list")
    apiservice: str = setting("--apiservice", "APIService whose caBundle --tls-self-managed patches",
        str, DEFAULT_APISERVICE, metavar="NAME")
    kubeconfig: Path | None = setting("--kubeconfig", "reach the Kubernetes API with this kubeconfig's current context (default: the pod's service account)",
        _path, metavar="FILE")
    config_file: Path | None = setting("--config", "YAML: capture rules, retention, redaction, gitops, notify",
        _path, metavar="FILE")
    capture: Mapping[str, Any] | None = setting(None, "capture rules (docs/capture-rules.md)",
        _capture, kind="section", key="capture")
    record_dry_run: bool | None = setting("--record-dry-run", "also record dry-run requests (off: kubectl diff sends one per run)",
        bool, None, kind="switch")
    """Off (None) leaves it to the capture rules."""
    include: Mapping[str, tuple[str, ...]] = setting("--include", "include requests by", kind="selectors")
    exclude: Mapping[str, tuple[str, ...]] = setting("--exclude", "exclude requests by", kind="selectors")
    redaction_key_file: Path | None = setting("--redaction-key-file", "HMAC key for Secret digests (default: generated once in --data-dir)",
        _path, metavar="FILE", key="redaction.keyFile")
    max_events_per_resource: int = setting("--max-events-per-resource", "history kept per resource",
        _at_least_one, KEEP_PER_RESOURCE, metavar="N", key="retention.maxEventsPerResource")
    max_age: timedelta | None = setting("--max-age", "drop events older than this (e.g. 90d)",
        _duration, metavar="DURATION", key="retention.maxAge")
    max_bytes: int | None = setting("--max-size", "keep the database under this size (e.g. 2GiB)",
        _size, metavar="SIZE", key="retention.maxSize")
    retention_interval_seconds: float = setting(None, "how often age and size limits are enforced",
        _interval, 60.0, key="retention.interval")
    gitops: GitOpsSettings = setting(None, "who is who, how Argo CD tracks its resources (docs/api.md)",
        parse_settings, kind="section", key="gitops")
    notify: NotifySettings = setting(None, "notification sinks and rules (docs/notifications.md)",
        parse_notify, kind="section", key="notify")
    max_body_bytes: int = setting("--max-body-size", "largest AdmissionReview accepted (the apiserver's own objects stay under ~1.5 MiB)",
        _size, 3 * 2**20, metavar="SIZE", shown="3MiB")
    commit_timeout_seconds: float = setting("--commit-timeout", "longest wait for a commit before allowing anyway",
        _positive_seconds, 2.0, metavar="SECONDS")
    max_commit_batch: int = setting("--max-commit-batch", "most events per transaction (1 commits each request alone)",
        _at_least_one, 512, metavar="N")
    heartbeat_interval_seconds: float = setting("--heartbeat-interval", "how often the collector records that it is recording (blind spots are told from them)",
        _positive_seconds, 10.0, metavar="SECONDS")
    log_format: str = setting("--log-format", "log lines as", _one_of(*LOG_FORMATS), "text",
        choices=LOG_FORMATS, shown="text on a terminal, json otherwise", computed=_log_format)
    log_level: str = setting("--log-level", "least important log lines shown", _one_of(*LOG_LEVELS),
        "info", choices=LOG_LEVELS)
    # fmt: on

    @property
    def database(self) -> Path:
        """The embedded default's SQLite file."""
        return self.data_dir / "logistis.db"

    @property
    def store(self) -> StoreURL:
        return self.store_url or StoreURL.sqlite(self.database)

    @property
    def retention(self) -> Retention:
        return Retention(
            max_events_per_resource=self.max_events_per_resource,
            max_age=self.max_age,
            max_bytes=self.max_bytes,
            interval_seconds=self.retention_interval_seconds,
        )


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
    for _, option in declared(Settings):
        _add(parser, option)
    add_version_flag(parser, "logistis-collector")
    return parser


def _add(parser: argparse.ArgumentParser, option: Option) -> None:
    """An option's flags; argparse keeps them as given (text), `Sources` parses them."""
    if option.flag is None:
        return  # the config file's only
    if option.kind == "selectors":
        for flag, key in selector_flags(option):
            what = f"{option.help} {key[:-1]} (glob, or re:REGEX; repeatable)"
            parser.add_argument(
                flag, metavar="PATTERN", action="append", help=f"{what} [{_env(flag)}]"
            )
        return
    if option.kind == "switch":
        parser.add_argument(option.flag, action="store_true", default=None, help=option.help_text())
        return
    parser.add_argument(
        option.flag,
        metavar=option.metavar,
        action="append" if option.kind == "list" else "store",
        choices=option.choices or None,
        help=option.help_text(),
    )
    if option.file_flag:
        parser.add_argument(
            option.file_flag,
            metavar="FILE",
            help=f"read the {option.flag} value from this file (a mounted Secret) [{_env(option.file_flag)}]",
        )  # fmt: skip


def _env(flag: str) -> str:
    return Option(flag, "", str).env or ""


def from_args(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    environ = os.environ if environ is None else environ
    parser = build_parser()
    args = parser.parse_args(argv)
    given = {
        flag: getattr(args, dest_of(flag))
        for _, option in declared(Settings)
        for flag in flags_of(option)
        if getattr(args, dest_of(flag)) is not None
    }
    config = Sources(given, environ, {}).value("config_file", _option("config_file"))
    file = configfile.load(config, Settings)
    sources = Sources(given, environ, file, f"--config {config}")
    values = {name: sources.value(name, option) for name, option in declared(Settings)}
    return _checked(Settings(**values))


def _option(name: str) -> Option:
    return dict(declared(Settings))[name]


def _checked(settings: Settings) -> Settings:
    """What goes together, and what one setting implies for another."""
    if (settings.tls_cert is None) != (settings.tls_key is None):
        raise SettingsError("--tls-cert and --tls-key go together")
    kube_api = settings.kube_api or settings.requestheader_client_ca_file is not None
    if kube_api and settings.workers > 1:
        # The Kubernetes API is answered on the webhook port, so by the workers, which hold
        # no store to read.
        raise SettingsError("--workers above 1 cannot serve --kube-api")
    return dataclasses.replace(
        settings,
        # A front-proxy CA file means the Kubernetes API is wanted.
        kube_api=kube_api,
        record_dry_run=settings.record_dry_run or None,
    )


def read_store_url(text: str | None, path: str | None, flag: str) -> StoreURL:
    """A store URL given as `flag` or read from the file of `flag`-file; errors never repeat
    it (it may hold a password)."""
    option = Option(flag, "", StoreURL.parse, from_file=True)
    given = {flag: text, f"{flag}-file": path}
    url: StoreURL = Sources({k: v for k, v in given.items() if v}, {}, {}).value(flag, option)
    return url

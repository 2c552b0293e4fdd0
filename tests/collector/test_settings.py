"""Flags, environment variables and the config file become one typed Settings object."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from logistis.collector.options import declared
from logistis.collector.settings import Listen, Settings, SettingsError, build_parser, from_args
from logistis.collector.store.protocol import KEEP_PER_RESOURCE


def test_defaults_match_the_design():
    settings = from_args([], environ={})
    assert settings.data_dir == Path(".logistis")
    assert settings.webhook_listen == Listen("0.0.0.0", 8443)
    assert settings.api_listen == Listen("127.0.0.1", 8080)
    assert settings.retention.max_events_per_resource == KEEP_PER_RESOURCE
    assert settings.record_dry_run is None
    assert settings.database == Path(".logistis/logistis.db")


def test_environment_variables_set_every_kind_of_flag():
    settings = from_args(
        [],
        environ={
            "LOGISTIS_DATA_DIR": "/data",
            "LOGISTIS_API_LISTEN": "127.0.0.1:9090",
            "LOGISTIS_RECORD_DRY_RUN": "true",
            "LOGISTIS_EXCLUDE_USER": "system:*,bot-*",
            "LOGISTIS_MAX_EVENTS_PER_RESOURCE": "7",
            "LOGISTIS_MAX_AGE": "30d",
            "LOGISTIS_MAX_SIZE": "2GiB",
        },
    )
    assert settings.data_dir == Path("/data")
    assert settings.api_listen.port == 9090
    assert settings.record_dry_run is True
    assert settings.exclude == {"users": ("system:*", "bot-*")}
    assert settings.retention.max_events_per_resource == 7
    assert settings.retention.max_age == timedelta(days=30)
    assert settings.retention.max_bytes == 2 * 2**30


def test_flags_win_over_the_environment():
    settings = from_args(["--data-dir", "/flag"], environ={"LOGISTIS_DATA_DIR": "/env"})
    assert settings.data_dir == Path("/flag")


def test_config_file_retention_and_flags_on_top(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("retention:\n  maxEventsPerResource: 20\n  maxAge: 12h\n")
    settings = from_args(["--config", str(config), "--max-age", "2d"], environ={})
    assert settings.retention.max_events_per_resource == 20
    assert settings.retention.max_age == timedelta(days=2)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a list\n", "must be a mapping"),
        ("colour: blue\n", "unknown sections"),
        ("retention:\n  forever: true\n", "unknown keys"),
        ("retention:\n  maxEventsPerResource: 0\n", "at least 1"),
        ("capture: [\n", "not valid YAML"),
    ],
)
def test_bad_config_files_name_the_problem(tmp_path, text, message):
    config = tmp_path / "config.yaml"
    config.write_text(text)
    with pytest.raises(SettingsError, match=message):
        from_args(["--config", str(config)], environ={})


def test_bad_environment_value_names_the_variable():
    with pytest.raises(SettingsError, match="LOGISTIS_MAX_EVENTS_PER_RESOURCE"):
        from_args([], environ={"LOGISTIS_MAX_EVENTS_PER_RESOURCE": "many"})


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("--commit-timeout", "--commit-timeout: must be positive"),
        ("--tls-handshake-timeout", "--tls-handshake-timeout: must be positive"),
        ("--idle-timeout", "--idle-timeout: must be positive"),
        ("--body-timeout", "--body-timeout: must be positive"),
        ("--stream-write-timeout", "--stream-write-timeout: must be positive"),
        ("--max-body-size", "--max-body-size: must be positive"),
        ("--max-commit-batch", "--max-commit-batch: must be a whole number of at least 1"),
    ],
)
def test_a_zero_flag_is_refused_not_taken_for_the_default(flag, message):
    with pytest.raises(SettingsError, match=message):
        from_args([flag, "0"], environ={})


def test_the_drain_and_the_shared_port_for_several_replicas():
    assert (from_args([], environ={}).drain_seconds, from_args([], environ={}).reuse_port) == (
        0.0,
        False,
    )
    settings = from_args(["--drain-seconds", "5"], environ={"LOGISTIS_REUSE_PORT": "true"})
    assert (settings.drain_seconds, settings.reuse_port) == (5.0, True)
    with pytest.raises(SettingsError, match="--drain-seconds: must not be negative"):
        from_args(["--drain-seconds", "-1"], environ={})


def test_the_kubernetes_api_flags():
    assert from_args([], environ={}).kube_api is False
    settings = from_args(
        [],
        environ={
            "LOGISTIS_REQUESTHEADER_CLIENT_CA_FILE": "/ca/front-proxy.crt",
            "LOGISTIS_REQUESTHEADER_ALLOWED_NAME": "front-proxy-client,aggregator",
        },
    )
    assert settings.kube_api is True  # a CA file means the API is wanted
    assert settings.requestheader_client_ca_file == Path("/ca/front-proxy.crt")
    assert settings.requestheader_allowed_names == ("front-proxy-client", "aggregator")
    assert settings.apiservice == "v1alpha1.logistis.io"
    assert from_args(["--kube-api"], environ={}).kube_api is True


PASSWORD = "pa:ss%2Fw%40rd-7f3"
URL_WITH_PASSWORD = f"postgresql://logistis:{PASSWORD}@db.example:5432/logistis?sslmode=require"


def test_store_defaults_to_the_sqlite_file_in_the_data_dir():
    store = from_args(["--data-dir", "/var/lib/logistis"], environ={}).store
    assert (store.backend, store.path) == ("sqlite", Path("/var/lib/logistis/logistis.db"))


def test_store_url_from_the_flag_the_environment_or_a_file(tmp_path):
    uri = tmp_path / "uri"
    uri.write_text(URL_WITH_PASSWORD + "\n")
    from_flag = from_args(["--store", "sqlite:///data/x.db"], environ={}).store
    from_env = from_args([], environ={"LOGISTIS_STORE": URL_WITH_PASSWORD}).store
    from_file = from_args([], environ={"LOGISTIS_STORE_FILE": str(uri)}).store
    assert (from_flag.backend, from_flag.path) == ("sqlite", Path("/data/x.db"))
    assert from_env.url == from_file.url == URL_WITH_PASSWORD
    assert from_env.backend == "postgresql"


def test_the_store_password_is_masked_wherever_the_url_is_shown():
    store = from_args([], environ={"LOGISTIS_STORE": URL_WITH_PASSWORD}).store
    shown = [str(store), repr(store), store.hide(f"failed: {URL_WITH_PASSWORD}")]
    for text in shown:
        assert not [part for part in ("pa:ss", "w%40rd", "w@rd") if part in text], text
    assert str(store) == "postgresql://logistis:***@db.example:5432/logistis?sslmode=require"
    assert store.hide("password w@rd... pa:ss/w@rd-7f3") == "password w@rd... ***"
    query = from_args(["--store", "postgresql://db/x?user=u&password=hunter2"], environ={})
    assert "hunter2" not in str(query.store)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--store", f"mysql://root:{PASSWORD}@db/x"], "must be sqlite://PATH or postgresql://"),
        (["--store", "sqlite://"], "needs a file path"),
        (["--store", "sqlite:///x", "--store-file", "/nowhere"], "give one of them"),
        (["--store-file", "/nowhere/uri"], "--store-file /nowhere/uri: No such file"),
    ],
)
def test_bad_store_settings_name_the_problem_without_the_url(argv, message):
    with pytest.raises(SettingsError, match=message) as raised:
        from_args(argv, environ={})
    assert PASSWORD not in str(raised.value)


def test_a_flag_wins_over_its_variable_the_variable_over_the_file_the_file_over_the_default(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("retention:\n  maxEventsPerResource: 30\nredaction:\n  keyFile: /file/key\n")
    given = ["--config", str(config)]
    environ = {"LOGISTIS_MAX_EVENTS_PER_RESOURCE": "20", "LOGISTIS_REDACTION_KEY_FILE": "/env/key"}

    def kept(argv: list[str], env: dict[str, str]) -> tuple[int, Path | None]:
        settings = from_args(argv, environ=env)
        return settings.max_events_per_resource, settings.redaction_key_file

    flags = ["--max-events-per-resource", "10", "--redaction-key-file", "/flag/key"]
    assert kept([*given, *flags], environ) == (10, Path("/flag/key"))
    assert kept(given, environ) == (20, Path("/env/key"))
    assert kept(given, {}) == (30, Path("/file/key"))
    assert kept([], {}) == (KEEP_PER_RESOURCE, None)


def test_the_config_file_can_come_from_its_variable(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("retention:\n  interval: 5m\n")
    settings = from_args([], environ={"LOGISTIS_CONFIG": str(config)})
    assert settings.config_file == config
    assert settings.retention.interval_seconds == 300


@pytest.mark.parametrize(
    ("argv", "environ", "config", "message"),
    [
        (["--max-age", "soon"], {}, None,
         "--max-age: 'soon' is not a duration like 90m, 36h or 30d"),
        ([], {"LOGISTIS_MAX_AGE": "soon"}, None,
         "LOGISTIS_MAX_AGE: 'soon' is not a duration like 90m, 36h or 30d"),
        ([], {}, "retention:\n  maxAge: soon\n",
         "--config {config}: retention.maxAge: 'soon' is not a duration like 90m, 36h or 30d"),
        ([], {}, "retention:\n  maxSize: lots\n",
         "--config {config}: retention.maxSize: 'lots' is not a size like 500MiB or 2GB"),
        ([], {}, "retention:\n  maxEventsPerResource: 0\n",
         "--config {config}: retention.maxEventsPerResource: must be a whole number of at least 1"),
        ([], {"LOGISTIS_MAX_EVENTS_PER_RESOURCE": "many"}, None,
         "LOGISTIS_MAX_EVENTS_PER_RESOURCE: 'many' must be a whole number of at least 1"),
        (["--drain-seconds", "soon"], {}, None, "--drain-seconds: 'soon' is not a number of seconds"),
        ([], {"LOGISTIS_IDLE_TIMEOUT": "0"}, None, "LOGISTIS_IDLE_TIMEOUT: must be positive"),
        ([], {"LOGISTIS_LOG_FORMAT": "xml"}, None, "LOGISTIS_LOG_FORMAT: 'xml' is not one of json, text"),
        (["--webhook-listen", "8443"], {}, None, "--webhook-listen: '8443' is not HOST:PORT"),
        ([], {"LOGISTIS_TLS_SECRET": "only-a-name"}, None,
         "LOGISTIS_TLS_SECRET: 'only-a-name' must be NAMESPACE/NAME"),
        (["--tls-cert", "/a.crt"], {}, None, "--tls-cert and --tls-key go together"),
        (["--workers", "2", "--kube-api"], {}, None, "--workers above 1 cannot serve --kube-api"),
        (["--workers", "0"], {}, None, "--workers: must be a whole number of at least 1"),
        ([], {}, "redaction:\n  key: x\n", "--config {config}: redaction: unknown keys ['key']"),
        ([], {}, "retention: 5\n", "--config {config}: retention must be a mapping"),
        ([], {}, "gitops:\n  actors:\n    - users: [ci]\n      kind: robot\n",
         "--config {config}: gitops.actors[1]: kind must be one of"),
        (["--config", "/nowhere/config.yaml"], {}, None,
         "--config /nowhere/config.yaml: No such file or directory"),
    ],
)  # fmt: skip
def test_a_wrong_value_is_refused_naming_where_it_came_from(
    tmp_path: Path, argv: list[str], environ: dict[str, str], config: str | None, message: str
) -> None:
    path = tmp_path / "config.yaml"
    if config is not None:
        path.write_text(config)
        argv = [*argv, "--config", str(path)]
    with pytest.raises(SettingsError) as refused:
        from_args(argv, environ=environ)
    assert str(refused.value).startswith(message.format(config=path)), str(refused.value)


def test_every_setting_has_its_own_flag_variable_and_key() -> None:
    options = [option for _, option in declared(Settings)]
    flags = [option.flag for option in options if option.flag]
    keys = [option.key for option in options if option.key]
    assert len(flags) == len(set(flags))
    assert len(keys) == len(set(keys))
    assert all(option.flag or option.key for option in options)


def test_the_help_shows_each_flag_its_default_and_its_variable() -> None:
    help_text = " ".join(build_parser().format_help().split())
    for flag, default, env in [
        ("--data-dir", ".logistis", "LOGISTIS_DATA_DIR"),
        ("--webhook-listen", "0.0.0.0:8443", "LOGISTIS_WEBHOOK_LISTEN"),
        ("--max-events-per-resource", str(KEEP_PER_RESOURCE), "LOGISTIS_MAX_EVENTS_PER_RESOURCE"),
        ("--tls-renew-before", "30d", "LOGISTIS_TLS_RENEW_BEFORE"),
        ("--max-body-size", "3MiB", "LOGISTIS_MAX_BODY_SIZE"),
        ("--log-level", "info", "LOGISTIS_LOG_LEVEL"),
    ]:
        line = help_text[help_text.index(f" {flag} ") :]
        line = line[: line.index(f"[{env}]")]
        assert f"(default {default})" in line, line
    assert "[LOGISTIS_EXCLUDE_USER]" in help_text
    assert "[LOGISTIS_STORE_FILE]" in help_text

"""A collector setting declared once: its flag, environment variable, config-file key, default
and help, beside the `Settings` field it fills (`settings.py` declares each field with
`setting(...)`). The command line, the environment, the config file and `--help` are all read
from those declarations; nothing else lists the settings.

A value is looked for in that order, the first found wins: the flag, its variable, the config
file's key, the default. It is parsed by the option's own function whatever its source, and a
wrong one is refused naming the source it came from.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from logistis.collector.errors import UsageError

ENV_PREFIX = "LOGISTIS_"
METADATA = "logistis.option"

Kind = Literal["value", "switch", "list", "selectors", "section"]
"""value: one value; switch: on when given; list: repeatable (comma-separated in the
environment); selectors: `--include-user` and the like, one flag per selector; section: a
whole section of the config file, handed to its own parser."""

SELECTORS = ("user", "group", "namespace", "kind", "operation")
TRUE = ("1", "true", "yes", "on")


class SettingsError(UsageError, ValueError):
    """A flag, variable or config value is wrong; the message says which."""


@dataclass(frozen=True, slots=True)
class Option:
    flag: str | None
    """`--data-dir`; its variable is `LOGISTIS_DATA_DIR`. None: the config file only."""
    help: str
    parse: Callable[[Any], Any]
    """Text (flag, variable) or a YAML value (config file) to the field's value; a ValueError
    says what is wrong with it."""
    default: Any = None
    metavar: str | None = None
    kind: Kind = "value"
    key: str | None = None
    """Where the config file holds it: `retention.maxAge`, or a whole section: `gitops`."""
    choices: tuple[str, ...] = ()
    shown: str | None = None
    """The default as --help shows it, when its value would not read well there."""
    from_file: bool = False
    """Also `--FLAG-file FILE`: the value read from a file (a mounted Secret)."""
    computed: Callable[[], Any] | None = None
    """The default when it depends on where the collector runs (it is read at start)."""

    @property
    def env(self) -> str | None:
        return None if self.flag is None else env_of(self.flag)

    @property
    def file_flag(self) -> str | None:
        return f"{self.flag}-file" if self.from_file and self.flag else None

    def help_text(self) -> str:
        """The help line: what it does, its default, its variable."""
        default = self.shown
        if default is None and self.default not in (None, False, (), "") and not self.computed:
            default = str(self.default)
        text = self.help + (f" (default {default})" if default else "")
        return f"{text} [{self.env}]" if self.env else text


def env_of(flag: str) -> str:
    return ENV_PREFIX + dest_of(flag).upper()


def setting(
    flag: str | None,
    help: str,
    parse: Callable[[Any], Any] = str,
    default: Any = None,
    **options: Any,
) -> Any:
    """A `Settings` field declared with its option (typed Any: the field's annotation says
    the type)."""
    option = Option(flag, help, parse, default, **options)
    metadata = {METADATA: option}
    if option.kind == "selectors":
        return dataclasses.field(default_factory=dict, metadata=metadata)
    if option.kind == "section":
        return dataclasses.field(default_factory=lambda: parse(None), metadata=metadata)
    if option.kind == "list":
        return dataclasses.field(default=tuple(default or ()), metadata=metadata)
    # A switch's None default: not given.
    return dataclasses.field(default=default, metadata=metadata)


def declared(cls: type) -> Iterator[tuple[str, Option]]:
    """The options of a dataclass's fields, in declaration order (--help's order)."""
    for each in dataclasses.fields(cls):
        option = each.metadata.get(METADATA)
        if option is not None:
            yield each.name, option


def flags_of(option: Option) -> Iterator[str]:
    """Every flag an option reads: its own, its -file twin, or one per selector."""
    if option.kind == "selectors":
        yield from (flag for flag, _ in selector_flags(option))
    elif option.flag is not None:
        yield option.flag
        if option.file_flag is not None:
            yield option.file_flag


def dest_of(flag: str) -> str:
    """argparse's attribute for a flag."""
    return flag.lstrip("-").replace("-", "_")


def selector_flags(option: Option) -> Iterator[tuple[str, str]]:
    """`--include-user`, ...: each selector's flag and the key of its patterns."""
    assert option.flag is not None
    for selector in SELECTORS:
        yield f"{option.flag}-{selector}", f"{selector}s"


@dataclass(frozen=True, slots=True)
class Sources:
    """Where values come from, most important first."""

    flags: Mapping[str, Any]
    """Given flags, by flag: text, True (a switch) or a list (repeated)."""
    environ: Mapping[str, str]
    file: Mapping[str, Any]
    """The config file's values by key (`retention.maxAge`, `gitops`)."""
    file_name: str = "--config"

    def value(self, name: str, option: Option) -> Any:
        """The field's value from the first source that has one, parsed."""
        if option.kind == "selectors":
            return self._selectors(option)
        if option.kind == "section":
            return _parsed(option, self.file.get(option.key or ""), self._file_source(option))
        found = self._found(option, option.flag, option.env)
        by_file = self._found(option, option.file_flag, _env(option.file_flag), in_file=False)
        if found and by_file:
            raise SettingsError(f"{option.flag} and {option.file_flag}: give one of them")
        if by_file:
            path, source = by_file
            return _parsed(option, _read(path, f"{source} {path}"), f"{source} {path}")
        if found:
            raw, source = found
            return _parsed(option, _raw(option, raw), source)
        if option.computed is not None:
            return option.computed()
        return _absent(option)

    def _found(
        self, option: Option, flag: str | None, env: str | None, *, in_file: bool = True
    ) -> tuple[Any, str] | None:
        if flag is not None and flag in self.flags:
            return self.flags[flag], flag
        if env is not None and env in self.environ:
            return self.environ[env], env
        if in_file and option.key is not None and option.key in self.file:
            return self.file[option.key], self._file_source(option)
        return None

    def _file_source(self, option: Option) -> str:
        return f"{self.file_name}: {option.key}"

    def _selectors(self, option: Option) -> dict[str, tuple[str, ...]]:
        chosen = {}
        for flag, key in selector_flags(option):
            found = self._found(option, flag, env_of(flag), in_file=False)
            if found:
                chosen[key] = tuple(_list(found[0]))
        return chosen


def _env(flag: str | None) -> str | None:
    return None if flag is None else env_of(flag)


def _raw(option: Option, raw: Any) -> Any:
    """The environment's text in the flag's shape: a switch's word, a list's commas."""
    if option.kind == "switch" and isinstance(raw, str):
        return raw.lower() in TRUE
    if option.kind == "list":
        return _list(raw)
    return raw


def _list(raw: Any) -> list[Any]:
    if isinstance(raw, str):
        return [part for part in raw.split(",") if part]
    return list(raw)


def _absent(option: Option) -> Any:
    if option.kind == "list":
        return tuple(option.default or ())
    return option.default


def _parsed(option: Option, raw: Any, source: str) -> Any:
    try:
        if option.kind == "list":
            return tuple(option.parse(item) for item in raw)
        if option.kind == "switch":
            return bool(raw)
        return option.parse(raw)
    except ValueError as error:
        if option.kind == "section":
            # A section's parser names the section and the key within it.
            raise SettingsError(f"{source.split(':')[0]}: {error}") from None
        raise SettingsError(f"{source}: {error}") from None


def _read(path: str, what: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as error:
        raise SettingsError(f"{what}: {error.strerror}") from None

"""`--store URL`: which database holds the history, named without ever showing its password.

`sqlite://PATH` (`sqlite:///var/lib/logistis/logistis.db` for an absolute path) is the embedded
file; `postgresql://USER:PASSWORD@HOST:PORT/DB?...` (or `postgres://`) is a PostgreSQL server.
The URL may carry a password (CloudNativePG's `<cluster>-app` Secret has one in its `uri`), so
the object prints as the URL with the password masked, and `hide` masks it in any message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, unquote_plus, urlencode, urlsplit, urlunsplit

from logistis.collector.errors import CollectorError

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
_SCHEMES = {"sqlite": SQLITE, "postgresql": POSTGRESQL, "postgres": POSTGRESQL}
MASK = "***"
# Query parameters that hold a secret (libpq's and asyncpg's names).
SECRET_PARAMETERS = ("password", "sslpassword")
UNPARSABLE = (
    "cannot be parsed as postgresql://USER:PASSWORD@HOST:PORT/DATABASE?PARAMETERS "
    "(in a user name or password, write @ / ? # as %40 %2F %3F %23)"
)


class StoreURLError(CollectorError, ValueError):
    """Not a store URL; the message never repeats the URL (it may hold a password)."""


@dataclass(frozen=True, slots=True)
class StoreURL:
    url: str = field(repr=False)
    backend: str

    @classmethod
    def parse(cls, text: str) -> StoreURL:
        text = text.strip()
        scheme, sep, rest = text.partition("://")
        backend = _SCHEMES.get(scheme.lower()) if sep else None
        if backend is None:
            raise StoreURLError("must be sqlite://PATH or postgresql://USER@HOST/DATABASE")
        if backend == SQLITE and not rest:
            raise StoreURLError("sqlite:// needs a file path, e.g. sqlite:///data/logistis.db")
        if backend == POSTGRESQL and not _read_alike(text):
            raise StoreURLError(UNPARSABLE)
        return cls(text, backend)

    @classmethod
    def sqlite(cls, path: Path) -> StoreURL:
        return cls(f"sqlite://{path}", SQLITE)

    @property
    def path(self) -> Path:
        """The SQLite file."""
        return Path(self.url.partition("://")[2])

    @property
    def secrets(self) -> tuple[str, ...]:
        """The passwords, as written in the URL and decoded, wherever they are given."""
        if self.backend == SQLITE:
            return ()
        parts = urlsplit(self.url)
        found = [_password(parts.netloc)]
        for pair in parts.query.split("&"):
            key, _, value = pair.partition("=")
            if unquote_plus(key).lower() in SECRET_PARAMETERS:
                found.append(value)
        forms = (str.strip, unquote, unquote_plus)
        return tuple({form(value) for value in found if value for form in forms})

    def hide(self, message: str) -> str:
        """`message` with the passwords masked wherever they appear."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            message = message.replace(secret, MASK)
        return message

    def __str__(self) -> str:
        if self.backend == SQLITE:
            return self.url
        parts = urlsplit(self.url)
        userinfo, at, hosts = parts.netloc.partition("@")
        user, colon, password = userinfo.partition(":")
        netloc = f"{user}{colon}{MASK if password else ''}{at}{hosts}"
        query = [
            (k, MASK if k.lower() in SECRET_PARAMETERS else v) for k, v in parse_qsl(parts.query)
        ]
        return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query, safe="/*")))


def _password(netloc: str) -> str:
    # asyncpg's reading: the user information ends at the first @, the user at its first :.
    userinfo, at, _ = netloc.partition("@")
    return userinfo.partition(":")[2] if at else ""


def _read_alike(url: str) -> bool:
    """Whether asyncpg reads the URL as written: a raw @, /, ? or # in a password cuts it
    where the writer did not mean (and shows the rest as a host, a port or a path), and
    asyncpg's own errors for what it cannot parse quote the URL."""
    try:
        parts = urlsplit(url)
        parse_qsl(parts.query, strict_parsing=bool(parts.query))
    except ValueError:
        return False
    hosts = parts.netloc.rpartition("@")[2]
    ports = [_port(host) for host in hosts.split(",")]
    ports += dict(parse_qsl(parts.query)).get("port", "").split(",")
    return (
        "#" not in url
        and parts.netloc.count("@") <= 1
        and ("@" in parts.netloc or "@" not in parts.path)
        and all(port.isdigit() or not port for port in ports)
    )


def _port(host: str) -> str:
    if host.startswith("["):
        return host.partition("]")[2].removeprefix(":") or ""
    return host.rpartition(":")[2] if ":" in host else ""

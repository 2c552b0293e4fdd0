"""`--store URL`: which database holds the history, named without ever showing its password.

`sqlite://PATH` (`sqlite:///var/lib/logistis/logistis.db` for an absolute path) is the embedded
file; `postgresql://USER:PASSWORD@HOST:PORT/DB?...` (or `postgres://`) is a PostgreSQL server.
The URL may carry a password (CloudNativePG's `<cluster>-app` Secret has one in its `uri`), so
the object prints as the URL with the password masked, and `hide` masks it in any message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
_SCHEMES = {"sqlite": SQLITE, "postgresql": POSTGRESQL, "postgres": POSTGRESQL}
MASK = "***"
# scheme://user:PASSWORD@ (read by hand: urlsplit gives up on a password holding a raw `/`).
_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:@/?#]*:)([^@]*)@")


class StoreURLError(ValueError):
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
        """The password, as written in the URL and decoded, wherever it is given."""
        in_authority = _PASSWORD.match(self.url)
        found = [in_authority.group(2) if in_authority else ""]
        found += [v for k, v in parse_qsl(urlsplit(self.url).query) if k == "password"]
        return tuple({s for value in found if value for s in (value, unquote(value))})

    def hide(self, message: str) -> str:
        """`message` with the password masked wherever it appears."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            message = message.replace(secret, MASK)
        return message

    def __str__(self) -> str:
        if self.backend == SQLITE:
            return self.url
        parts = urlsplit(_PASSWORD.sub(rf"\g<1>{MASK}@", self.url))
        query = [(k, MASK if k == "password" else v) for k, v in parse_qsl(parts.query)]
        return urlunsplit(parts._replace(query=urlencode(query, safe="/*")))

"""A store URL's passwords are never shown, however they are spelled: masked wherever the URL
is printed, and a URL that asyncpg would read otherwise than it is written (a password cut at
a raw @, /, ? or #, shown as a host, port or path) is refused in one line without its content.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from logistis.collector.store import StoreURL
from tests.support.collector import run_collector_command

SECRET = "Zq7-secret"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            f"postgresql://u:{SECRET}@db:5432/x?sslmode=require",
            "postgresql://u:***@db:5432/x?sslmode=require",
        ),
        (
            f"postgresql://u@db/x?sslpassword={SECRET}&sslmode=verify-full",
            "postgresql://u@db/x?sslpassword=***&sslmode=verify-full",
        ),
        (f"postgresql://db/x?user=u&password={SECRET}", "postgresql://db/x?user=u&password=***"),
        (f"postgresql://db/x?pass%77ord={SECRET}", "postgresql://db/x?password=***"),
        (
            f"postgres://u:{SECRET}%40%2F%3F%23@[::1]:5432,db2:5433/x?SSLPASSWORD={SECRET}",
            "postgres://u:***@[::1]:5432,db2:5433/x?SSLPASSWORD=***",
        ),
    ],
)
def test_every_password_of_a_store_url_is_masked(url: str, shown: str) -> None:
    store = StoreURL.parse(url)
    assert str(store) == shown
    for text in (str(store), repr(store), store.hide(f"failed: {url}")):
        assert SECRET not in text, text
    assert store.hide(f"x {SECRET} y") == "x *** y"


@pytest.mark.parametrize("cut", ["@", ":/?#", "/", "?", "#", "?a=b@x=", ":9/"])
def test_a_url_whose_password_would_be_misread_is_one_line_without_it(
    tmp_path: Path, cut: str
) -> None:
    """asyncpg reads `pa@ss@db` as the password `pa` on the host `ss@db`, and fails on the
    others with a message quoting what it took for a port or a query."""
    url = f"postgresql://logistis:Zq7{cut}Xk9@127.0.0.1:1/logistis"
    result = run_collector_command(
        ["--data-dir", str(tmp_path)], env={"LOGISTIS_STORE": url, "PATH": "/usr/bin:/bin"}
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "%40" in lines[0], "it says how to write such a password"
    for fragment in ("Zq7", "Xk9"):
        assert fragment not in result.stderr + result.stdout

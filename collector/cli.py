"""`logistis-collector`: flags in, a running collector out, one readable line on failure."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Sequence

from collector import logs
from collector.rules import RuleError
from collector.server import serve
from collector.settings import SettingsError, from_args
from collector.store import StoreError

log = logging.getLogger("collector")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = from_args(argv)
    except SettingsError as error:
        print(f"logistis-collector: {error}", file=sys.stderr)
        return 2
    logs.configure(settings.log_format, settings.log_level)
    try:
        asyncio.run(serve(settings))
    except (SettingsError, RuleError, StoreError) as error:
        print(f"logistis-collector: {error}", file=sys.stderr)
        return 2 if not isinstance(error, StoreError) else 1
    except OSError as error:
        print(f"logistis-collector: {error.strerror or error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

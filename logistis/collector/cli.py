"""`logistis-collector`: flags in, a running collector out, one readable line on failure."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import uvloop

from logistis.collector import logs
from logistis.collector.admission.rules import RuleError
from logistis.collector.commands import migrate
from logistis.collector.server import serve
from logistis.collector.settings import SettingsError, from_args
from logistis.collector.store import StoreError
from logistis.collector.trust.callers import CallerError
from logistis.collector.trust.certmanager import SelfManagedTLSError
from logistis.collector.trust.frontproxy import ConfigurationError
from logistis.collector.trust.tls import CertificateError

GIL_SWITCH_SECONDS = 0.001


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["migrate-store"]:
        try:
            return migrate.main(argv[1:])
        except StoreError as error:
            print(f"logistis-collector migrate-store: {error}", file=sys.stderr)
            return 1
    if argv[:1] == ["notify"]:
        return _notify(argv[1:])
    try:
        settings = from_args(argv)
    except SettingsError as error:
        print(f"logistis-collector: {error}", file=sys.stderr)
        return 2
    logs.configure(settings.log_format, settings.log_level)
    try:
        # The encoder and deriver threads run Python too: a thread holding the GIL gives it up
        # after this long when the event loop wants it back to answer a review (5 ms by default,
        # which showed in the latency at 500 reviews/s).
        sys.setswitchinterval(GIL_SWITCH_SECONDS)
        # uvloop: about a third less CPU per TLS request than asyncio's own loop.
        uvloop.run(serve(settings))
    except (SettingsError, RuleError, CallerError) as error:
        print(f"logistis-collector: {error}", file=sys.stderr)
        return 2
    except (
        StoreError,
        CertificateError,
        SelfManagedTLSError,
        ConfigurationError,
        OSError,
    ) as error:
        # One line, never a traceback: these are the operator's to fix (file, cluster, port).
        print(f"logistis-collector: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def _notify(argv: Sequence[str]) -> int:
    """`logistis-collector notify test|send-test`: imported only when asked for."""
    from logistis.collector.commands import notify as command

    return command.main(argv)


if __name__ == "__main__":
    sys.exit(main())

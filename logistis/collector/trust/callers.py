"""Who may call which path of the TLS port: the webhook's path token and client certificates.

Anyone who reaches the webhook port could otherwise write history ("alice deleted the
production database"). Two proofs that a caller is the kube-apiserver are checked here, and
only here:

- a secret path token (`/validate/<token>`): the apiserver learns it from the
  ValidatingWebhookConfiguration, which only cluster administrators can read;
- a client certificate, for apiservers configured to present one (an AdmissionConfiguration
  with a kubeconfig for this webhook), issued by one of the CAs given for the webhook.

The TLS context asks for a client certificate without requiring one (other paths, such as the
probes, are called without), and OpenSSL checks a presented chain against every client CA
the port trusts. Which of those CAs issued it, and whether that CA is trusted for the path
asked for, is decided afterwards by `ClientAuthorities`: a port can trust several client CAs,
each for its own paths.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
import ssl
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding

from logistis.collector.errors import UsageError

WEBHOOK_PATH = "/validate"
"""The webhook's path; with a token, the token is the one segment after it."""


# The apiserver takes a webhook service path only if each segment is a lowercase RFC 1123
# subdomain; such a segment also travels in a URL as it is, with nothing to escape.
TOKEN_RULE = re.compile(
    r"(?=.{16,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
)
TOKEN_RULE_TEXT = (
    "16 to 253 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
)


def token_path(token: str) -> str:
    return f"{WEBHOOK_PATH}/{token}"


def new_token() -> str:
    """A path token: 256 random bits, base32 in lowercase (52 letters and digits)."""
    return base64.b32encode(secrets.token_bytes(32)).decode().rstrip("=").lower()


def usable_token(token: str) -> bool:
    """The apiserver accepts it in a webhook's path, and a request path can carry it as it is."""
    return TOKEN_RULE.fullmatch(token) is not None


class CallerError(UsageError, ValueError):
    """A client CA or token file cannot be used; the message names the file."""


@dataclass(frozen=True, slots=True)
class ClientAuthority:
    """A CA whose client certificates are trusted for the paths under `prefixes`."""

    certificate: x509.Certificate
    prefixes: tuple[str, ...]

    def issued(self, peer: x509.Certificate) -> bool:
        try:
            peer.verify_directly_issued_by(self.certificate)
        except (ValueError, TypeError, InvalidSignature):
            return False
        return True


# Verdicts kept per (path, certificate): a caller presents the same certificate on every
# request of a connection and on every connection, and checking its signature again each time
# cost more than the rest of the webhook's own work on a review. Bounded: a flood of distinct
# certificates (each one OpenSSL already accepted) only starts the memory over.
VERDICTS = 256


class ClientAuthorities:
    """The client CAs of one TLS port."""

    def __init__(self, authorities: Sequence[ClientAuthority] = ()) -> None:
        self._authorities = tuple(authorities)
        self._verdicts: dict[tuple[str, bytes], bool] = {}

    @classmethod
    def from_files(cls, files: Iterable[Path], prefixes: tuple[str, ...]) -> ClientAuthorities:
        return cls([ClientAuthority(cert, prefixes) for f in files for cert in _load_cas(f)])

    def __bool__(self) -> bool:
        return bool(self._authorities)

    def guards(self, path: str) -> bool:
        """A client certificate is required on this path."""
        return any(_under(path, a.prefixes) for a in self._authorities)

    def allows(self, path: str, peer_der: bytes | None) -> bool:
        """The peer's certificate was issued by a CA trusted for `path`."""
        if peer_der is None:
            return False
        verdict = self._verdicts.get((path, peer_der))
        if verdict is None:
            peer = x509.load_der_x509_certificate(peer_der)
            verdict = any(_under(path, a.prefixes) and a.issued(peer) for a in self._authorities)
            if len(self._verdicts) >= VERDICTS:
                self._verdicts.clear()
            self._verdicts[(path, peer_der)] = verdict
        return verdict

    def configure(self, context: ssl.SSLContext) -> None:
        """Ask for client certificates on `context`, verified against every CA here."""
        if not self._authorities:
            return
        context.verify_mode = ssl.CERT_OPTIONAL
        for authority in self._authorities:
            pem = authority.certificate.public_bytes(Encoding.PEM).decode()
            context.load_verify_locations(cadata=pem)


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


def _load_cas(path: Path) -> list[x509.Certificate]:
    try:
        certificates = x509.load_pem_x509_certificates(path.read_bytes())
    except OSError as error:
        raise CallerError(f"client CA {path}: {error.strerror}") from None
    except ValueError as error:
        raise CallerError(f"client CA {path}: not a PEM certificate ({error})") from None
    return certificates


@dataclass(slots=True)
class PathToken:
    """The secret last segment of the webhook's path; None accepts the bare path. Self-managed
    TLS replaces it when the Secret that keeps it is made anew."""

    value: str | None
    _followers: list[Callable[[str], None]] = field(default_factory=list)

    @classmethod
    def from_file(cls, path: Path | None) -> PathToken:
        if path is None:
            return cls(None)
        try:
            token = path.read_text().strip()
        except OSError as error:
            raise CallerError(f"--webhook-token-file {path}: {error.strerror}") from None
        if not usable_token(token):
            raise CallerError(f"--webhook-token-file {path}: the token must be {TOKEN_RULE_TEXT}")
        return cls(token)

    def set(self, value: str) -> None:
        self.value = value
        for follower in self._followers:
            follower(value)

    def follow(self, follower: Callable[[str], None]) -> None:
        """Call `follower` with each new token (the webhook workers get theirs so)."""
        self._followers.append(follower)

    def accepts(self, given: str) -> bool:
        if self.value is None:
            return given == ""
        # Compared in constant time: the time taken says nothing of how much was right.
        return hmac.compare_digest(given.encode(), self.value.encode())


@dataclass(frozen=True, slots=True)
class WebhookGate:
    """Both proofs for the webhook path: the token in it, and the client certificate."""

    token: PathToken
    authorities: ClientAuthorities

    def admits(self, path: str, given_token: str, peer: Callable[[], bytes | None]) -> bool:
        """`peer` gives the caller's certificate (DER); asked only where one is required."""
        if not self.token.accepts(given_token):
            return False
        return not self.authorities.guards(path) or self.authorities.allows(path, peer())

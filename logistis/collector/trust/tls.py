"""Serving certificates: generation, the local development certificate, and live reload.

The webhook's `ssl.SSLContext` is created once and handed to aiohttp. Loading a new
chain into that same context changes the certificate of every handshake that starts
afterwards, while connections already open keep theirs; `ReloadingTLS` relies on that
to rotate certificates without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import ipaddress
import logging
import os
import ssl
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import cast, get_args

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from logistis.collector.errors import CollectorError

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]

DEV_NAMES = ("localhost", "127.0.0.1", "::1")
DEV_VALIDITY = dt.timedelta(days=365)
DEV_RENEW_BEFORE = dt.timedelta(days=30)
DEV_CERT_FILE = "tls-dev.crt"
DEV_KEY_FILE = "tls-dev.key"

# TLS 1.2 suites with forward secrecy and AEAD only; TLS 1.3 suites are all strong.
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
# Tolerates clocks a little behind ours when a certificate was just issued.
BACKDATE = dt.timedelta(minutes=5)


class CertificateError(CollectorError, ValueError):
    """A certificate or key cannot be served; the message names the files."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class KeyPair:
    """A PEM certificate (or chain) and its PEM private key."""

    cert_pem: bytes
    key_pem: bytes

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)

    @property
    def private_key(self) -> CertificateIssuerPrivateKeyTypes:
        key = serialization.load_pem_private_key(self.key_pem, password=None)
        if not isinstance(key, get_args(CertificateIssuerPrivateKeyTypes)):
            raise TypeError("the private key cannot sign certificates")
        return cast("CertificateIssuerPrivateKeyTypes", key)  # isinstance cannot narrow to a union


def _subject_alt_names(names: Iterable[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _builder(
    subject: str, issuer: x509.Name | None, public_key: ec.EllipticCurvePublicKey, now: dt.datetime
) -> x509.CertificateBuilder:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _serving_extensions(
    builder: x509.CertificateBuilder, names: tuple[str, ...]
) -> x509.CertificateBuilder:
    return (
        builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=False,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(_subject_alt_names(names), critical=False)
    )


def self_signed_certificate(
    names: tuple[str, ...], validity: dt.timedelta, now: dt.datetime | None = None
) -> KeyPair:
    """A serving certificate that is its own issuer: clients trust it by pinning it."""
    now = now or utcnow()
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    builder = _builder(names[0], None, public, now).not_valid_after(now + validity)
    builder = _serving_extensions(builder, names).add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False
    )
    cert = builder.sign(key, hashes.SHA256())
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM), _pem_key(key))


def generate_ca(
    common_name: str, validity: dt.timedelta, now: dt.datetime | None = None
) -> KeyPair:
    """A certificate authority that signs serving certificates and nothing else."""
    now = now or utcnow()
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    cert = (
        _builder(common_name, None, public, now)
        .not_valid_after(now + validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=False,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM), _pem_key(key))


def issue_serving_certificate(
    ca: KeyPair, names: tuple[str, ...], validity: dt.timedelta, now: dt.datetime | None = None
) -> KeyPair:
    """A serving certificate for `names`, signed by `ca`, never outliving it."""
    now = now or utcnow()
    ca_cert = ca.certificate
    key = ec.generate_private_key(ec.SECP256R1())
    not_after = min(now + validity, ca_cert.not_valid_after_utc)
    builder = _builder(names[0], ca_cert.subject, key.public_key(), now).not_valid_after(not_after)
    builder = _serving_extensions(builder, names).add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.private_key.public_key()),
        critical=False,
    )
    cert = builder.sign(ca.private_key, hashes.SHA256())
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM), _pem_key(key))


def certificate_names(cert: x509.Certificate) -> set[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {*san.get_values_for_type(x509.DNSName)} | {
        str(ip) for ip in san.get_values_for_type(x509.IPAddress)
    }


def certificate_usable(
    cert: x509.Certificate, names: Iterable[str], renew_before: dt.timedelta, now: dt.datetime
) -> bool:
    """Valid now, for every name, and not yet due for renewal."""
    normalized = {str(ipaddress.ip_address(n)) if _is_ip(n) else n for n in names}
    return (
        cert.not_valid_before_utc <= now
        and cert.not_valid_after_utc - renew_before > now
        and normalized <= certificate_names(cert)
    )


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def pair_matches(pair: KeyPair) -> bool:
    """The private key belongs to the (first) certificate."""
    return pair.certificate.public_key() == pair.private_key.public_key()


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Replace `path` in one rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_pair(pair: KeyPair, cert_path: Path, key_path: Path) -> None:
    """Key first: a reloader that sees the new certificate will find its key in place."""
    _write_atomic(key_path, pair.key_pem, 0o600)
    _write_atomic(cert_path, pair.cert_pem, 0o644)


def read_pair(cert_path: Path, key_path: Path) -> KeyPair | None:
    """The pair on disk if both files parse and belong together, else None."""
    try:
        pair = KeyPair(cert_path.read_bytes(), key_path.read_bytes())
        return pair if pair_matches(pair) else None
    except (OSError, ValueError, TypeError):
        return None


def ensure_dev_certificate(data_dir: Path, now: Clock = utcnow) -> tuple[Path, Path]:
    """A self-signed certificate for localhost in `data_dir`, made on first start.

    Reused while valid; replaced when it is within DEV_RENEW_BEFORE of expiry, unreadable,
    or does not cover the local names.
    """
    cert_path, key_path = data_dir / DEV_CERT_FILE, data_dir / DEV_KEY_FILE
    current = read_pair(cert_path, key_path)
    if current and certificate_usable(current.certificate, DEV_NAMES, DEV_RENEW_BEFORE, now()):
        return cert_path, key_path
    write_pair(self_signed_certificate(DEV_NAMES, DEV_VALIDITY, now()), cert_path, key_path)
    log.info("generated a self-signed certificate for %s in %s", ", ".join(DEV_NAMES), cert_path)
    return cert_path, key_path


def server_context() -> ssl.SSLContext:
    """Server side: TLS 1.2 or newer, forward-secret AEAD suites only."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    return context


def _load_into(context: ssl.SSLContext, pair: KeyPair) -> None:
    # ssl only loads chains from files: a private directory holds them for the moment it takes.
    with tempfile.TemporaryDirectory(prefix="logistis-tls-") as scratch:
        cert_path, key_path = Path(scratch, "tls.crt"), Path(scratch, "tls.key")
        write_pair(pair, cert_path, key_path)
        context.load_cert_chain(cert_path, key_path)


class ReloadingTLS:
    """An SSLContext serving the certificate in two files, following them as they change."""

    DEFAULT_INTERVAL = 5.0

    def __init__(self, cert: Path, key: Path) -> None:
        self.cert_path = cert
        self.key_path = key
        self.context = server_context()
        # At start a bad pair is fatal: the error names the files.
        try:
            pair = KeyPair(cert.read_bytes(), key.read_bytes())
            _load_into(self.context, pair)
        except (OSError, ssl.SSLError) as error:
            reason = getattr(error, "strerror", None) or error
            raise CertificateError(
                f"cannot serve certificate {cert} with key {key}: {reason}"
            ) from error
        self._loaded = self._digest(pair)
        self._rejected: str | None = None

    @staticmethod
    def _digest(pair: KeyPair) -> str:
        return hashlib.sha256(pair.cert_pem + b"\0" + pair.key_pem).hexdigest()

    def reload(self) -> bool:
        """Load the files if their content changed; True when a new certificate is served.

        A pair that does not load is first tried on a scratch context, so the live context
        keeps serving the previous certificate; the failure is logged once per content.
        """
        try:
            pair = KeyPair(self.cert_path.read_bytes(), self.key_path.read_bytes())
        except OSError as error:
            return self._reject(f"unreadable: {error}", f"oserror:{error}")
        digest = self._digest(pair)
        if digest in (self._loaded, self._rejected):
            return False
        try:
            _load_into(server_context(), pair)
            _load_into(self.context, pair)
        except OSError as error:  # ssl.SSLError is one; so is a full /tmp
            return self._reject(str(error), digest)
        self._loaded, self._rejected = digest, None
        log.info("serving the new certificate from %s", self.cert_path)
        return True

    def _reject(self, reason: str, digest: str) -> bool:
        if digest != self._rejected:
            log.error(
                "certificate %s / key %s not reloaded, keeping the current one: %s",
                self.cert_path,
                self.key_path,
                reason,
            )
            self._rejected = digest
        return False

    async def watch(self, interval: float = DEFAULT_INTERVAL) -> None:
        """Check the files every `interval` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            self.reload()

    @contextlib.asynccontextmanager
    async def following(self) -> AsyncIterator[ReloadingTLS]:
        """This certificate, its files watched until the block ends."""
        watching = asyncio.create_task(self.watch(), name="tls-watch")
        try:
            yield self
        finally:
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watching

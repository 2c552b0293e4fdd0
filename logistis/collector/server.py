"""Running the collector: TLS, the two HTTP servers, signals and an orderly shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import ipaddress
import logging
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from aiohttp import web

from logistis.collector.edge.api import create_api_app
from logistis.collector.edge.webhook import create_webhook_app, serving_webhook
from logistis.collector.kubeapi.handlers import add_kube_api
from logistis.collector.runtime import Runtime, open_runtime
from logistis.collector.settings import Listen, Settings, SettingsError
from logistis.collector.signals import stop_on_signals
from logistis.collector.trust.callers import WEBHOOK_PATH, ClientAuthorities, PathToken, WebhookGate
from logistis.collector.trust.certmanager import (
    SERVICE_DNS_NAMES,
    KubernetesTLSApi,
    SecretRef,
    SelfManagedConfig,
    SelfManagedTLS,
)
from logistis.collector.trust.frontproxy import RequestHeaderAuth, configmap_source, file_source
from logistis.collector.trust.tls import ReloadingTLS, ensure_dev_certificate
from logistis.collector.workers import WebhookWorkers

log = logging.getLogger(__name__)


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Serve until `stop` is set (or SIGTERM/SIGINT), then shut down in order."""
    _check_api_exposure(settings.api_listen, settings.allow_public_api)
    stop = stop or stop_on_signals()
    # The runtime first: a bad capture rule or database must stop the start before TLS work.
    gate = WebhookGate(
        PathToken.from_file(settings.webhook_token_file),
        ClientAuthorities.from_files(settings.client_ca_files, (WEBHOOK_PATH,)),
    )
    async with (
        open_runtime(settings) as runtime,
        _serving_tls(settings, gate) as tls,
        _front_proxy(settings, tls) as front_proxy,
        # The webhook port first: the API's /readyz says 200 only once it is there.
        _answering(runtime, gate, tls, front_proxy) as drain,
        _serving_api(runtime),
    ):
        try:
            # What exists now (modules, the kubernetes client, compiled rules) lives as long as
            # the process. Frozen, it is no longer walked by every full collection, which took
            # 25-70 ms each under load: the slowest answers of the webhook.
            gc.freeze()
            log.info(
                "collector ready",
                extra={
                    "webhook": f"https://{settings.webhook_listen}{WEBHOOK_PATH}",
                    "api": f"http://{settings.api_listen}/api/v1/events",
                    "database": runtime.store.name,
                    "workers": settings.workers,
                },
            )
            await stop.wait()
            await drain(settings.drain_seconds)
            log.info("shutting down: finishing admission requests, flushing the store")
        finally:
            # Before the webhook closes: its in-flight requests still need the writer to
            # commit, and the streams it serves end now.
            runtime.stopping.set()


Drain = Callable[[float], Awaitable[None]]


@contextlib.asynccontextmanager
async def _answering(
    runtime: Runtime,
    gate: WebhookGate,
    tls: ReloadingTLS,
    front_proxy: RequestHeaderAuth | None,
) -> AsyncIterator[Drain]:
    """The webhook port, answered by this process or by its workers (`--workers`)."""
    settings = runtime.settings
    if settings.workers > 1:
        workers = WebhookWorkers(runtime, gate.token, tls.cert_path, tls.key_path)
        async with workers.running():
            yield workers.drain
        return
    app = create_webhook_app(runtime.admission, gate)
    if front_proxy is not None:
        add_kube_api(app, runtime, front_proxy)
    async with serving_webhook(app, settings, tls.context, reuse_port=settings.reuse_port):
        yield functools.partial(_drain, runtime)


@contextlib.asynccontextmanager
async def _serving_api(runtime: Runtime) -> AsyncIterator[None]:
    api = web.AppRunner(create_api_app(runtime), access_log=None, shutdown_timeout=1.0)
    await api.setup()
    try:
        listen = runtime.settings.api_listen
        await web.TCPSite(api, listen.host, listen.port).start()
        yield
    finally:
        await api.cleanup()


async def _drain(runtime: Runtime, seconds: float) -> None:
    """Unready but answering for `seconds`: the endpoints drop this replica and callers move
    to the others before the port closes, so no request meets a closed port."""
    if seconds <= 0:
        return
    runtime.draining.set()
    log.info("draining: unready, still answering", extra={"seconds": seconds})
    # Each answer now says `Connection: close` and closes its connection. An idle connection
    # is left open until the drain ends: closed now, it could be closed under a review its
    # caller is sending on it at that moment (a replica still in the endpoints is picked until
    # the caller sees it unready), and that review would be let through unrecorded. One still
    # idle at the end was not picked during the whole drain: its caller uses others.
    await asyncio.sleep(seconds)


def _check_api_exposure(listen: Listen, allowed: bool) -> None:
    try:
        loopback = listen.host == "localhost" or ipaddress.ip_address(listen.host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return
    if not allowed:
        raise SettingsError(
            f"--api-listen {listen} is reachable from outside the pod and the API has no "
            "authentication; add --allow-public-api if that is really meant"
        )
    log.warning("the query API listens beyond loopback", extra={"api": str(listen)})


@contextlib.asynccontextmanager
async def _serving_tls(settings: Settings, gate: WebhookGate) -> AsyncIterator[ReloadingTLS]:
    tasks: list[asyncio.Task[None]] = []
    if settings.tls_self_managed:
        api = KubernetesTLSApi.connect(settings.kubeconfig)
        manager = SelfManagedTLS(api, _self_managed_config(settings))
        cert, key, token = await manager.start()
        # The token in the Secret wins over a file: it is what the webhook configuration calls.
        gate.token.set(token)
        renew = manager.renew_forever(on_token=gate.token.set)
        tasks.append(asyncio.create_task(renew, name="tls-renew"))
    elif settings.tls_cert and settings.tls_key:
        cert, key = settings.tls_cert, settings.tls_key
    else:
        cert, key = ensure_dev_certificate(settings.data_dir)
        log.info("serving a self-signed certificate for localhost", extra={"cert": str(cert)})
    tls = ReloadingTLS(cert, key)
    gate.authorities.configure(tls.context)
    try:
        async with tls.following():
            yield tls
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@contextlib.asynccontextmanager
async def _front_proxy(
    settings: Settings, tls: ReloadingTLS
) -> AsyncIterator[RequestHeaderAuth | None]:
    if not settings.kube_api:
        yield None
        return
    if settings.requestheader_client_ca_file:
        source = file_source(
            settings.requestheader_client_ca_file, settings.requestheader_allowed_names
        )
    else:
        source = configmap_source(settings.kubeconfig)
    async with RequestHeaderAuth(source).following(tls.context) as auth:
        yield auth


def _self_managed_config(settings: Settings) -> SelfManagedConfig:
    # The served copy of the key goes to memory-backed /tmp, not the database volume:
    # its durable home is the Secret.
    cert_dir = Path(tempfile.mkdtemp(prefix="logistis-tls-"))
    return SelfManagedConfig(
        secret=SecretRef.parse(settings.tls_secret),
        webhook_configuration=settings.webhook_configuration,
        cert_dir=cert_dir,
        dns_names=settings.tls_dns_names or SERVICE_DNS_NAMES,
        renew_before=settings.tls_renew_before,
        apiservice=settings.apiservice if settings.kube_api else None,
    )

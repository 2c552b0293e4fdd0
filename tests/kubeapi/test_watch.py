"""`kubectl get changes -A -w`: ADDED events after a resource version, resumed without a gap,
as Table rows when asked, 410 Gone when the version is older than what is kept."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from logistis.collector.edge import stream
from logistis.collector.server import serve
from logistis.collector.settings import Listen, Settings
from logistis.collector.trust.tls import ensure_dev_certificate
from tests.kubeapi.conftest import GV, TABLE_ACCEPT
from tests.support.collector import CollectorProcess, free_port, post_reviews
from tests.support.fixtures import bodies
from tests.support.frontproxy import FrontProxy


def fresh(count: int, start: int) -> list[dict]:
    chosen = [b for b in bodies() if not b["request"]["dryRun"]][start : start + count]
    for body in chosen:
        body["request"]["uid"] = str(uuid.uuid4())
    return chosen


@pytest.fixture
def watched(tmp_path: Path, front_proxy: FrontProxy) -> Iterator[CollectorProcess]:
    with CollectorProcess(tmp_path / "data", *front_proxy.collector_args()) as collector:
        yield collector


def version(client: httpx.Client, path: str = f"{GV}/changes") -> int:
    return int(client.get(path, params={"limit": 1}).json()["metadata"]["resourceVersion"])


def watch(
    client: httpx.Client, count: int, path: str = f"{GV}/changes", headers=None, **params
) -> list[dict]:
    received: list[dict] = []
    with client.stream(
        "GET", path, params={"watch": "1", **params}, headers=headers or {}
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line:
                received.append(json.loads(line))
            if len(received) == count:
                break
    return received


def namespaced_ids(collector: CollectorProcess, after: int) -> list[int]:
    with collector.client() as client:
        items = client.get("/api/v1/events", params={"limit": 1000}).json()["items"]
    return sorted(e["id"] for e in items if e["namespace"] and e["id"] > after)


def test_a_watch_sends_every_change_after_the_version_in_order(watched, front_proxy):
    post_reviews(watched, fresh(10, 0))
    with front_proxy.client(watched) as client:
        start = version(client)
        post_reviews(watched, fresh(30, 40))
        expected = namespaced_ids(watched, start)
        events = watch(client, len(expected), resourceVersion=start)
    assert {e["type"] for e in events} == {"ADDED"}
    assert [int(e["object"]["metadata"]["resourceVersion"]) for e in events] == expected
    assert all(e["object"]["kind"] == "Change" for e in events)


def test_a_watch_resumes_where_the_client_left_off(watched, front_proxy):
    post_reviews(watched, fresh(40, 0))
    with front_proxy.client(watched) as client:
        ids = namespaced_ids(watched, 0)
        middle = ids[len(ids) // 2]
        events = watch(client, len(ids) - len(ids) // 2 - 1, resourceVersion=middle)
    assert [int(e["object"]["metadata"]["name"]) for e in events] == ids[len(ids) // 2 + 1 :]


def test_a_namespace_watch_sees_only_its_namespace(watched, front_proxy):
    post_reviews(watched, fresh(60, 0))
    with front_proxy.client(watched) as client:
        events = watch(client, 3, f"{GV}/namespaces/team-a/changes", resourceVersion=1)
    assert {e["object"]["metadata"]["namespace"] for e in events} == {"team-a"}


def test_kubectl_get_w_receives_table_rows(watched, front_proxy):
    post_reviews(watched, fresh(20, 0))
    with front_proxy.client(watched) as client:
        events = watch(client, 2, headers={"Accept": TABLE_ACCEPT}, resourceVersion=1)
    for event in events:
        assert event["type"] == "ADDED"
        table = event["object"]
        assert table["kind"] == "Table"
        assert len(table["rows"]) == 1
        assert table["columnDefinitions"][0]["name"] == "Name"


def test_a_version_older_than_what_is_kept_is_410_gone(tmp_path, front_proxy):
    args = (*front_proxy.collector_args(), "--max-events-per-resource", "1")
    with CollectorProcess(tmp_path / "data", *args) as collector:
        # Three changes of one resource: retention keeps only the last.
        post_reviews(collector, [fresh(1, 3)[0] for _ in range(3)])
        with collector.client() as client:
            items = client.get("/api/v1/events", params={"limit": 1000}).json()["items"]
        oldest = min(e["id"] for e in items)
        assert oldest == 3
        with front_proxy.client(collector) as client:
            gone = client.get(f"{GV}/changes", params={"watch": "1", "resourceVersion": "1"})
            assert gone.status_code == 410
            status = gone.json()
            assert (status["kind"], status["reason"], status["code"]) == ("Status", "Expired", 410)
            assert "too old resource version" in status["message"]
            kept = watch(client, 1, resourceVersion=oldest - 1)
    assert int(kept[0]["object"]["metadata"]["name"]) >= oldest


def test_timeout_seconds_ends_the_watch(watched, front_proxy):
    with front_proxy.client(watched) as client:
        response = client.get(f"{GV}/changes", params={"watch": "1", "timeoutSeconds": "1"})
    assert response.status_code == 200
    assert response.text == ""


async def test_bookmarks_when_asked(tmp_path, front_proxy, monkeypatch):
    # In this process, so that a quiet spell can be made short.
    monkeypatch.setattr(stream, "PING_SECONDS", 0.2)
    port = free_port()
    settings = Settings(
        data_dir=tmp_path,
        webhook_listen=Listen("127.0.0.1", port),
        api_listen=Listen("127.0.0.1", free_port()),
        kube_api=True,
        requestheader_client_ca_file=front_proxy.ca_file,
        requestheader_allowed_names=("front-proxy-client",),
    )
    server_ca, _ = ensure_dev_certificate(tmp_path)
    context = front_proxy.context_for(server_ca)
    stop = asyncio.Event()
    server = asyncio.create_task(serve(settings, stop))
    headers = {"X-Remote-User": "alice"}
    url = f"https://127.0.0.1:{port}{GV}/changes"
    try:
        async with httpx.AsyncClient(verify=context, headers=headers, timeout=10) as client:
            await _ready(client, url)
            params = {"watch": "1", "allowWatchBookmarks": "true", "resourceVersion": "0"}
            async with client.stream("GET", url, params=params) as response:
                line = await anext(response.aiter_lines())
        event = json.loads(line)
        assert event["type"] == "BOOKMARK"
        assert event["object"]["kind"] == "Change"
        assert event["object"]["metadata"]["resourceVersion"] == "0"
    finally:
        stop.set()
        await server


async def _ready(client: httpx.AsyncClient, url: str) -> None:
    for _ in range(200):
        try:
            if (await client.get(url)).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("the collector did not start")

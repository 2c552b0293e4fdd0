"""What the store cannot answer is still a `metav1.Status` from the Kubernetes API, on both
stores: a continue token past what an id can be is a 400, a database that is away a 503 at
once (as /api/v1 says it), never a plain-text 500."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import httpx

from logistis.collector.store import StoreURL
from tests.kubeapi.conftest import GV
from tests.support.collector import CollectorProcess, post_reviews, wait_for
from tests.support.fixtures import bodies
from tests.support.frontproxy import FrontProxy
from tests.support.postgres import PostgresServer
from tests.support.stores import store_env


def continue_token(rv: int, start: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"rv": rv, "start": start}).encode()).decode()


def assert_status(response: httpx.Response, code: int, words: str) -> None:
    assert response.status_code == code, response.text
    body = response.json()
    assert (body["kind"], body["code"]) == ("Status", code)
    assert words in body["message"]


def test_a_continue_token_past_any_id_is_a_400(
    tmp_path: Path, store_url: StoreURL, front_proxy: FrontProxy
) -> None:
    args = front_proxy.collector_args()
    with CollectorProcess(tmp_path / "data", *args, env=store_env(store_url)) as collector:
        post_reviews(collector, bodies()[:5])
        with front_proxy.client(collector) as kube:
            for rv, start in [(5, 2**63), (2**63, 5), (5, 2**70), (5, -1)]:
                token = continue_token(rv, start)
                response = kube.get(f"{GV}/changes", params={"continue": token})
                assert_status(response, 400, "continue")


def test_postgresql_away_is_a_503_at_once_and_served_again_when_back(
    tmp_path: Path, front_proxy: FrontProxy
) -> None:
    with PostgresServer.temporary(fsync=False) as server:
        env = store_env(server.create_database())
        args = front_proxy.collector_args()
        with CollectorProcess(tmp_path / "data", *args, env=env) as collector:
            post_reviews(collector, bodies()[:5])
            with front_proxy.client(collector) as kube:
                server.stop()
                for path in ("changes", "clusterchanges", "namespaces/team-a/changes/1"):
                    started = time.monotonic()
                    response = kube.get(f"{GV}/{path}", params={})
                    assert_status(response, 503, "store unavailable")
                    assert time.monotonic() - started < 3
                watch = kube.get(f"{GV}/changes", params={"watch": "1"})
                assert_status(watch, 503, "store unavailable")
                server.start()
                assert wait_for(lambda: kube.get(f"{GV}/changes").status_code == 200, 30)
        assert "Traceback" not in collector.log.read_text()

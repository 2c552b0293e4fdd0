"""logistis-tui and kubectl blame through the Kubernetes API, as each user's RBAC allows.

The stand-in apiserver (tests/support/kube_apiserver.py) authenticates each test user by
bearer token, enforces a small RBAC table and proxies to the collector with a front-proxy
certificate; the clients use real kubeconfig files.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from logistis.client.api import CollectorClient
from logistis.client.connect import Via, connect
from logistis.client.events import EventFilter
from logistis.client.kubeapi import KubeAPIClient, KubeAPIError
from logistis.client.protocol import CollectorError, HistoryClient
from logistis.tui.app import ConnectionSettings, LogistisApp
from logistis.tui.widgets.event_table import EventTable
from logistis.tui.widgets.namespace_tree import NamespaceTree
from tests.support.collector import CollectorProcess, post_reviews
from tests.support.fixtures import bodies
from tests.support.kube_apiserver import Allow, Cluster, Running, User, serving
from tests.tui.conftest import FakeKubectl, fake_kubectl, wait_until  # noqa: F401

ALICE = User("alice", "token-alice", ("dev-team",))
AUDITOR = User("auditor", "token-auditor", ("auditors",))
NOBODY = User("nobody", "token-nobody")
RULES = [
    Allow("alice", "changes", "team-a"),  # the view role in team-a, through aggregation
    Allow("auditor", "changes"),
    Allow("auditor", "clusterchanges"),
    Allow("auditor", "namespaces", group=""),
]
KUBECTL_BLAME = Path(sys.executable).with_name("kubectl-blame")


def recorded_namespaces(collector: CollectorProcess) -> list[dict]:
    with collector.client() as client:
        return client.get("/api/v1/namespaces").json()["items"]


def cluster_for(collector: CollectorProcess, *, aggregated: bool = True) -> Cluster:
    names = [n["namespace"] for n in recorded_namespaces(collector) if n["namespace"]]
    return Cluster([ALICE, AUDITOR, NOBODY], RULES, [*names, "quiet"], aggregated=aggregated)


@pytest.fixture(scope="module")
def apiserver(kube_collector, front_proxy) -> Iterator[Running]:
    with serving(cluster_for(kube_collector), kube_collector, front_proxy) as running:
        yield running


@pytest.fixture(scope="module")
def configs(apiserver: Running, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return apiserver.kubeconfigs(tmp_path_factory.mktemp("kubeconfigs"), "team-a")


async def all_pages(client: HistoryClient, filter: EventFilter) -> list[int]:
    ids, cursor = [], None
    while True:
        page = await client.events(filter, cursor=cursor, limit=40)
        ids += [e.id for e in page.items]
        if not (cursor := page.next):
            return ids


async def test_the_kubernetes_api_is_used_when_the_cluster_serves_it(kube_collector, configs):
    wanted = EventFilter(namespace="team-a")
    async with (
        connect(None, kubeconfig=configs["alice"]) as kube,
        CollectorClient(kube_collector.api_url) as direct,
    ):
        assert isinstance(kube, KubeAPIClient)
        assert await all_pages(kube, wanted) == await all_pages(direct, wanted)


@pytest.mark.parametrize(
    "wanted",
    [
        EventFilter(namespace="team-a", user="alice", kind="Deployment"),
        EventFilter(namespace="team-a", operation="DELETE", people=True),
        EventFilter(namespace="team-a", q="nginx", since="1h"),
        EventFilter(namespace="", kind="namespaces"),
        # Who acted, as field selectors.
        EventFilter(namespace="team-a", actor="person", tool="kubectl"),
        EventFilter(namespace="team-a", actor="controller", hand_edit=False),
    ],
)
async def test_filters_select_what_the_collector_selects(kube_collector, configs, wanted):
    async with (
        connect(None, kubeconfig=configs["auditor"], via=Via.KUBE_API) as kube,
        CollectorClient(kube_collector.api_url) as direct,
    ):
        expected = await all_pages(direct, wanted)
        assert expected
        assert await all_pages(kube, wanted) == expected


async def test_a_comma_or_an_equals_sign_in_a_filter_is_part_of_its_value(kube_collector, configs):
    wanted = EventFilter(namespace="team-a", user="alice,kind=Pod\\")
    async with (
        connect(None, kubeconfig=configs["auditor"], via=Via.KUBE_API) as kube,
        CollectorClient(kube_collector.api_url) as direct,
    ):
        assert await all_pages(kube, wanted) == await all_pages(direct, wanted) == []


@pytest.mark.parametrize(
    ("user", "wanted", "words"),
    [
        (
            "alice",
            EventFilter(namespace="team-b"),
            "cannot list changes.logistis.io in namespace team-b",
        ),
        ("alice", EventFilter(), "cannot list changes.logistis.io in every namespace"),
        (
            "alice",
            EventFilter(namespace=""),
            "cannot list clusterchanges.logistis.io for the cluster",
        ),
        (
            "nobody",
            EventFilter(namespace="team-a"),
            "kubectl auth can-i list changes.logistis.io -n team-a",
        ),
    ],
)
async def test_a_403_names_the_missing_right(configs, user, wanted, words):
    async with connect(None, kubeconfig=configs[user]) as kube:
        with pytest.raises(KubeAPIError) as raised:
            await kube.events(wanted)
    assert raised.value.status == 403
    assert words in str(raised.value)


async def test_the_namespaces_are_those_the_user_may_read(kube_collector, configs):
    recorded = {n["namespace"]: n for n in recorded_namespaces(kube_collector)}
    async with connect(None, kubeconfig=configs["alice"]) as kube:
        (team_a,) = await kube.namespaces()
    assert team_a.namespace == "team-a"
    assert team_a.count == recorded["team-a"]["count"]
    assert team_a.last_user == recorded["team-a"]["lastUser"]
    async with connect(None, kubeconfig=configs["auditor"]) as kube:
        everything = await kube.namespaces()
    assert {s.namespace: s.count for s in everything} == {
        k: v["count"] for k, v in recorded.items()
    }
    async with connect(None, kubeconfig=configs["nobody"]) as kube:
        assert await kube.namespaces() == ()


async def test_one_event_in_full_and_the_facets(kube_collector, configs):
    async with (
        connect(None, kubeconfig=configs["auditor"]) as kube,
        CollectorClient(kube_collector.api_url) as direct,
    ):
        newest = (await direct.events(EventFilter(namespace="team-a"), limit=1)).items[0]
        full = await direct.event(newest.id)
        assert await kube.event(newest.id, "team-a") == full
        assert (await kube.event(newest.id)).object == full.object  # found by id alone
        wanted = EventFilter(namespace="team-a")
        facets, reference = await kube.facets(wanted), await direct.facets(wanted)
    assert facets.total == reference.total
    assert {u.value: u.count for u in facets.users} == {u.value: u.count for u in reference.users}
    assert {o.value for o in facets.operations} == {o.value for o in reference.operations}


async def test_kube_api_asked_for_where_the_cluster_does_not_serve_it(
    kube_collector, front_proxy, tmp_path
):
    with serving(
        cluster_for(kube_collector, aggregated=False), kube_collector, front_proxy
    ) as bare:
        kubeconfig = str(bare.kubeconfig(tmp_path / "kc", ALICE, "team-a"))
        with pytest.raises(CollectorError, match=r"does not serve logistis\.io/v1alpha1"):
            async with connect(None, kubeconfig=kubeconfig, via=Via.KUBE_API):
                pass


async def test_without_the_apiservice_the_port_forward_is_used(
    kube_collector,
    front_proxy,
    tmp_path,
    fake_kubectl: FakeKubectl,  # noqa: F811
):
    fake_kubectl.serve(kube_collector.api_url)
    with serving(
        cluster_for(kube_collector, aggregated=False), kube_collector, front_proxy
    ) as bare:
        kubeconfig = str(bare.kubeconfig(tmp_path / "kc", ALICE, "team-a"))
        async with connect(None, kubeconfig=kubeconfig) as client:
            assert not isinstance(client, KubeAPIClient)
            assert await client.namespaces()
    assert len(fake_kubectl.runs()) == 1


async def test_the_port_forward_when_forced(apiserver, configs, kube_collector, fake_kubectl):  # noqa: F811
    fake_kubectl.serve(kube_collector.api_url)
    async with connect(None, kubeconfig=configs["alice"], via=Via.PORT_FORWARD) as client:
        assert not isinstance(client, KubeAPIClient)
    assert len(fake_kubectl.runs()) == 1


async def test_the_live_stream_is_a_watch(tmp_path, front_proxy):
    reviews = [b for b in bodies() if not b["request"]["dryRun"]][:60]
    for review in reviews:
        review["request"]["uid"] = str(uuid.uuid4())
    with CollectorProcess(tmp_path / "data", *front_proxy.collector_args()) as collector:
        post_reviews(collector, bodies()[:1])
        with serving(cluster_for(collector), collector, front_proxy) as running:
            kubeconfig = str(running.kubeconfig(tmp_path / "kc", ALICE, "team-a"))
            async with (
                connect(None, kubeconfig=kubeconfig) as kube,
                CollectorClient(collector.api_url) as direct,
            ):
                opened, received = asyncio.Event(), []

                async def follow() -> None:
                    async for event in kube.stream(EventFilter(namespace="team-a"), 1, opened.set):
                        received.append(event.id)

                task = asyncio.create_task(follow())
                await asyncio.wait_for(opened.wait(), 10)
                await asyncio.to_thread(post_reviews, collector, reviews)
                expected = sorted(await all_pages(direct, EventFilter(namespace="team-a")))
                assert expected
                for _ in range(500):
                    if len(received) >= len(expected):
                        break
                    await asyncio.sleep(0.02)
                task.cancel()
    assert received == expected


async def test_facets_without_a_namespace_cover_what_the_user_may_read(kube_collector, configs):
    async with (
        connect(None, kubeconfig=configs["alice"]) as kube,
        CollectorClient(kube_collector.api_url) as direct,
    ):
        facets = await kube.facets(EventFilter())
        reference = await direct.facets(EventFilter(namespace="team-a"))
        assert await kube.home_namespace() == "team-a"
    assert facets.total == reference.total
    assert [n.value for n in facets.namespaces] == ["team-a"]
    assert {k.kind for k in facets.kinds} == {k.kind for k in reference.kinds}


async def test_the_tui_starts_where_the_user_may_read(configs):
    connection = ConnectionSettings(kubeconfig=configs["alice"], via=Via.KUBE_API)
    app = LogistisApp(connection, EventFilter(people=True))
    async with app.run_test(size=(160, 40)) as pilot:
        tree = app.browse.query_one(NamespaceTree)
        table = app.browse.query_one(EventTable)
        await wait_until(pilot, lambda: bool(table.events) and len(tree.root.children) > 0)
        assert [n.data.namespace for n in tree.root.children if n.data] == ["team-a"]
        assert {e.namespace for e in table.events} == {"team-a"}
        assert app.browse.filter.namespace == "team-a"  # not every namespace: a 403


def blame(*args: str, kubeconfig: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LOGISTIS_URL", "KUBECONFIG")}
    return subprocess.run(
        [str(KUBECTL_BLAME), *args, "--kubeconfig", kubeconfig],
        capture_output=True,
        text=True,
        env={**env, "HOME": str(home), "COLUMNS": "120", "NO_COLOR": "1"},
        timeout=60,
    )


def test_kubectl_blame_reads_its_namespace_and_is_refused_elsewhere(configs, tmp_path):
    served = blame("deployments", "-n", "team-a", kubeconfig=configs["alice"], home=tmp_path)
    assert served.returncode == 0, served.stderr
    assert "nginx" in served.stdout
    # A custom resource resolves through the kinds recorded where alice may read.
    widgets = blame("widgets", "-n", "team-a", kubeconfig=configs["alice"], home=tmp_path)
    assert widgets.returncode == 0, widgets.stderr
    assert "w1" in widgets.stdout
    refused = blame("deployments", "-n", "team-b", kubeconfig=configs["alice"], home=tmp_path)
    assert refused.returncode == 7
    assert refused.stderr.count("\n") == 1
    assert "cannot list changes.logistis.io in namespace team-b" in refused.stderr


def test_kubectl_blame_event_shows_what_the_collector_shows(kube_collector, configs, tmp_path):
    with httpx.Client(base_url=kube_collector.api_url) as client:
        newest = client.get("/api/v1/events", params={"namespace": "team-a", "limit": 1}).json()
    args = ("--event", str(newest["items"][0]["id"]), "-n", "team-a", "-o", "yaml")
    shown = blame(*args, kubeconfig=configs["alice"], home=tmp_path)
    assert shown.returncode == 0, shown.stderr
    direct = blame(
        *args, "--url", kube_collector.api_url, kubeconfig=configs["alice"], home=tmp_path
    )
    assert shown.stdout == direct.stdout
    assert "kind: " in shown.stdout

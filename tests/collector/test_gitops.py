"""Who acted and what manages the object, through a real collector on both stores: Argo CD's
and Flux's requests as they send them, a person's hand edits of what they manage, Argo CD's
self-heal putting one back at its revision, one left in place under Flux; and the filters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.collector.test_stream import read_stream
from tests.support.collector import CollectorProcess, post_reviews, wait_for
from tests.support.gitops import (
    ARGOCD_REVISION,
    FLUX_REVISION,
    Request,
    argocd_story,
    flux_story,
    unmanaged_story,
)
from tests.support.stores import BACKENDS, backend_env, store_env

ARGOCD = {"kind": "gitops", "tool": "argocd"}
FLUX = {"kind": "gitops", "tool": "flux"}
SHOP = {"tool": "argocd", "name": "shop", "namespace": None}
APPS = {"tool": "flux", "name": "apps", "namespace": "flux-system"}
STORIES: list[Request] = [*argocd_story(), *flux_story(), *unmanaged_story()]


@pytest.fixture(scope="module", params=BACKENDS)
def story_collector(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CollectorProcess]:
    """A collector of the module's own on each store, with the three stories posted."""
    env = backend_env(request)
    with CollectorProcess(tmp_path_factory.mktemp("gitops") / "data", env=env) as collector:
        responses = post_reviews(collector, [story.body for story in STORIES])
        assert all(r.json()["response"]["allowed"] for r in responses)
        yield collector


@pytest.fixture(scope="module")
def recorded(story_collector: CollectorProcess) -> dict[str, dict[str, Any]]:
    """Each request's event once the deriver has been past it, by the request's name."""
    with story_collector.client() as client:
        # Decided hand edits show once the deriver has kept the writes that decided them.
        assert wait_for(lambda: len(events(client, handEdit="true")) == 2, 10)
        by_uid = {e["uid"]: e for e in events(client)}
    return {story.name: by_uid[story.uid] for story in STORIES}


def events(client: Any, **params: str) -> list[dict[str, Any]]:
    response = client.get("/api/v1/events", params={"limit": "1000", **params})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_each_writer_is_told_apart(recorded):
    actors = {name: event["actor"] for name, event in recorded.items()}
    assert actors == {
        "argocd sync starts": ARGOCD,
        "argocd creates": ARGOCD,
        "argocd sync succeeds": ARGOCD,
        "deployment controller": {"kind": "controller", "tool": None},
        "alice scales": {"kind": "person", "tool": "kubectl"},
        "argocd self-heal starts": ARGOCD,
        "argocd self-heals": ARGOCD,
        "argocd self-heal succeeds": ARGOCD,
        "flux reconciles": FLUX,
        "flux creates": FLUX,
        "flux applied": FLUX,
        "bob sets the image": {"kind": "person", "tool": "kubectl"},
        "flux applies again": FLUX,
        "bob applies a configmap": {"kind": "person", "tool": "kubectl"},
    }


def test_argo_cds_self_heal_puts_a_scale_back_at_its_revision(recorded):
    scale, heal = recorded["alice scales"], recorded["argocd self-heals"]
    assert (scale["managedBy"], scale["handEdit"], scale["revertedBy"]) == (SHOP, True, heal["id"])
    assert (heal["managedBy"], heal["handEdit"], heal["reverts"]) == (SHOP, False, [scale["id"]])
    revision = {"tool": "argocd", "name": "shop", "revision": ARGOCD_REVISION}
    assert heal["revision"] == recorded["argocd creates"]["revision"] == revision


def test_a_hand_edit_flux_leaves_in_place_stays_unreverted(recorded):
    edit, again = recorded["bob sets the image"], recorded["flux applies again"]
    assert (edit["managedBy"], edit["handEdit"], edit["revertedBy"]) == (APPS, True, None)
    assert (again["reverts"], again["handEdit"]) == ([], False)
    assert again["revision"] == {"tool": "flux", "name": "apps", "revision": FLUX_REVISION}


def test_controllers_status_and_unmanaged_objects_are_never_hand_edits(recorded):
    hand_edits = {name for name, event in recorded.items() if event["handEdit"]}
    assert hand_edits == {"alice scales", "bob sets the image"}
    assert recorded["deployment controller"]["managedBy"] == SHOP
    assert recorded["bob applies a configmap"]["managedBy"] is None
    # Only the tools' own writes carry a revision.
    with_revision = {name for name, event in recorded.items() if event["revision"]}
    assert with_revision == {
        "argocd creates",
        "argocd self-heals",
        "flux creates",
        "flux applies again",
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"handEdit": "true"}, {"alice scales", "bob sets the image"}),
        ({"actor": "person"}, {"alice scales", "bob sets the image", "bob applies a configmap"}),
        ({"actor": "controller"}, {"deployment controller"}),
        (
            {"tool": "flux"},
            {"flux reconciles", "flux creates", "flux applied", "flux applies again"},
        ),
        ({"managedBy": "flux", "handEdit": "false"}, {"flux creates", "flux applies again"}),
        ({"managedBy": "argocd", "actor": "gitops"}, {"argocd creates", "argocd self-heals"}),
    ],
)
def test_the_filters_return_exactly_those_events(story_collector, recorded, params, expected):
    with story_collector.client() as client:
        found = {e["uid"] for e in events(client, **params)}
    assert found == {recorded[name]["uid"] for name in expected}


def test_the_facets_count_what_the_filters_select(story_collector, recorded):
    with story_collector.client() as client:
        facets = client.get("/api/v1/facets", params={"handEdit": "true"}).json()
    assert facets["total"] == 2
    assert {user["value"] for user in facets["users"]} == {"alice", "bob"}


def test_the_stream_sends_only_hand_edits_when_asked(story_collector, recorded):
    received = read_stream(story_collector, 2, after="0", handEdit="true")
    sent = [json.loads(message["data"]) for message in received]
    assert [e["uid"] for e in sent] == [
        recorded[name]["uid"] for name in ("alice scales", "bob sets the image")
    ]
    assert sent[0]["revertedBy"] == recorded["argocd self-heals"]["id"]


def test_an_unknown_filter_value_is_a_400_naming_it(story_collector):
    with story_collector.client() as client:
        for name, value in (("actor", "robot"), ("tool", "jenkins"), ("managedBy", "kubectl")):
            response = client.get("/api/v1/events", params={name: value})
            assert response.status_code == 400
            assert name in response.json()["error"]
            assert value in response.json()["detail"]
        assert client.get("/api/v1/stream", params={"handEdit": "maybe"}).status_code == 400


def test_namespaces_and_metrics_count_hand_edits_by_actor_kind(story_collector, recorded):
    with story_collector.client() as client:
        namespaces = client.get("/api/v1/namespaces").json()["items"]
        metrics = client.get("/metrics").text
    counts = {n["namespace"]: n["handEdits"] for n in namespaces}
    assert (counts["shop"], counts["blog"], counts["argocd"]) == (1, 1, 0)
    assert 'logistis_hand_edits_total{actor="person"} 2.0' in metrics
    assert "alice" not in metrics


def test_the_config_files_rules_tell_who_acted(tmp_path, store_url):
    config = tmp_path / "config.yaml"
    config.write_text(
        "gitops:\n  actors:\n    - users: [bob]\n      kind: serviceaccount\n      tool: helm\n"
    )
    stories = unmanaged_story()
    env = store_env(store_url)
    with CollectorProcess(tmp_path / "data", "--config", str(config), env=env) as collector:
        post_reviews(collector, [story.body for story in stories])
        with collector.client() as client:
            assert wait_for(lambda: events(client, actor="serviceaccount", tool="helm"), 10)
            (event,) = events(client)
    assert event["uid"] == stories[0].uid
    assert event["actor"] == {"kind": "serviceaccount", "tool": "helm"}

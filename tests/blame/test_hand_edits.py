"""`kubectl logistis` and `kubectl blame` on Argo CD's and Flux's stories: the flags that select
hand edits, actors, tools and managing tools, sent to the collector; JSON in the API's shape."""

from __future__ import annotations

import json

from tests.support.gitops import ARGOCD_REVISION


def names(result) -> list[str]:
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_hand_edits_of_what_flux_manages(logistis_gitops) -> None:
    result = logistis_gitops("log", "-A", "--hand-edits", "--managed-by", "flux", "-o", "name")
    assert names(result) == ["deployment.apps/blog"]


def test_an_actor_or_a_tool_shows_the_machines_it_names(logistis_gitops) -> None:
    """People first would leave Argo CD out (a service account): --tool asks for it."""
    result = logistis_gitops("log", "-A", "--tool", "argocd", "-o", "json")
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)["items"]
    assert {i["actor"]["tool"] for i in items} == {"argocd"}
    heal = next(i for i in items if i["reverts"])
    assert heal["revision"] == {"tool": "argocd", "name": "shop", "revision": ARGOCD_REVISION}
    assert heal["managedBy"]["name"] == "shop"
    people = logistis_gitops("log", "-A", "--actor", "person", "-o", "json")
    assert {i["user"]["username"] for i in json.loads(people.stdout)["items"]} == {"alice", "bob"}


def test_a_hand_edit_put_back_names_its_put_back(blame_gitops) -> None:
    result = blame_gitops("-A", "--hand-edits", "--managed-by", "argocd", "-o", "yaml")
    assert result.returncode == 0, result.stderr
    assert "handEdit: true" in result.stdout
    assert "revertedBy: " in result.stdout
    assert "revertedBy: null" not in result.stdout


def test_a_value_the_collector_does_not_know_is_bad_usage(blame_gitops) -> None:
    result = blame_gitops("-A", "--tool", "kustomize")
    assert result.returncode == 2
    assert "--tool: invalid choice: 'kustomize'" in result.stderr

"""Who acted and what manages the object, as the pure functions decide them: the built-in
knowledge, the config file's rules over it, each tool's marks on the objects it applies, what of
an object a tool owns, whether a later write put a hand edit back, and the revision in a
source's status. The shipped example config keeps the writes the revisions come from."""

from __future__ import annotations

from pathlib import Path

import pytest

from logistis.collector.admission.rules import build_rules
from logistis.collector.history.actors import ConfigError, classify, parse_rules
from logistis.collector.history.gitops import (
    GitOpsSettings,
    managed_by,
    owned_paths,
    parse_settings,
    puts_back,
    revision_of,
)
from logistis.collector.settings import SettingsError, from_args
from tests.support.gitops import argocd_story, flux_story

EXAMPLE_CONFIG = Path(__file__).parents[2] / "examples" / "config.yaml"
SA = "system:serviceaccount:"


@pytest.mark.parametrize(
    ("username", "manager", "expected"),
    [
        (f"{SA}argocd:argocd-application-controller", "argocd-controller", ("gitops", "argocd")),
        (f"{SA}gitops:argocd-application-controller", "", ("gitops", "argocd")),
        (f"{SA}flux-system:kustomize-controller", "kustomize-controller", ("gitops", "flux")),
        (f"{SA}flux-system:helm-controller", "helm-controller", ("gitops", "flux")),
        # Flux impersonating a tenant's service account still writes as itself.
        (f"{SA}team-a:flux-tenant", "kustomize-controller", ("gitops", "flux")),
        ("system:kube-controller-manager", "kube-controller-manager", ("controller", None)),
        (f"{SA}kube-system:deployment-controller", "", ("controller", None)),
        ("system:node:worker-1", "kubelet", ("controller", None)),
        ("system:kube-scheduler", "", ("controller", None)),
        (f"{SA}ci:deployer", "kubectl-client-side-apply", ("serviceaccount", "kubectl")),
        ("alice", "helm", ("person", "helm")),
        ("alice", "kubectl-edit", ("person", "kubectl")),
        ("alice", "", ("person", None)),
    ],
)
def test_the_built_in_knowledge(username, manager, expected):
    actor = classify(username, ["system:authenticated"], manager)
    assert (actor.kind, actor.tool) == expected
    assert actor.kubernetes == (expected[0] == "controller")


def test_the_config_files_rules_come_before_the_built_in_ones():
    rules = parse_rules(
        [
            {"users": [f"{SA}ci:*"], "kind": "serviceaccount", "tool": "helm"},
            {"fieldManagers": ["shop-operator"], "kind": "controller"},
            {"groups": ["platform-admins"], "kind": "person"},
            {"users": [f"{SA}kube-system:my-addon"], "kind": "serviceaccount"},
        ]
    )
    ci = classify(f"{SA}ci:deployer", [], "kubectl-client-side-apply", rules)
    assert (ci.kind, ci.tool) == ("serviceaccount", "helm")
    operator = classify(f"{SA}shop:operator", [], "shop-operator", rules)
    # An in-house controller is not one of Kubernetes' own: its writes can be hand edits.
    assert (operator.kind, operator.kubernetes) == ("controller", False)
    admin = classify(f"{SA}ops:break-glass", ["platform-admins"], "kubectl-edit", rules)
    assert (admin.kind, admin.tool) == ("person", "kubectl")
    addon = classify(f"{SA}kube-system:my-addon", [], "", rules)
    assert (addon.kind, addon.kubernetes) == ("serviceaccount", False)


@pytest.mark.parametrize(
    ("entries", "words"),
    [
        ({"users": ["x"]}, "must be a list"),
        ([{"users": ["x"], "kind": "robot"}], "kind must be one of"),
        ([{"users": ["x"], "tool": "jenkins"}], "tool must be one of"),
        ([{"users": ["x"]}], "needs a kind, a tool or both"),
        ([{"kind": "person"}], "needs users, groups or fieldManagers"),
        ([{"user": ["x"], "kind": "person"}], "unknown keys ['user']"),
    ],
)
def test_a_wrong_rule_is_refused_naming_it(entries, words):
    with pytest.raises(ConfigError, match=r"gitops\.actors") as error:
        parse_rules(entries)
    assert words in str(error.value)


def meta(labels=None, annotations=None) -> dict:
    return {"metadata": {"labels": labels or {}, "annotations": annotations or {}}}


LABEL_TRACKING = parse_settings({"argocd": {"resourceTrackingMethod": "label"}})


@pytest.mark.parametrize(
    ("obj", "settings", "expected"),
    [
        (
            meta(annotations={"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:shop/web"}),
            GitOpsSettings(),
            ("argocd", "shop", None),
        ),
        (
            meta(annotations={"argocd.argoproj.io/tracking-id": "team-a_shop:/Service:shop/web"}),
            GitOpsSettings(),
            ("argocd", "shop", "team-a"),
        ),
        (meta(labels={"app.kubernetes.io/instance": "shop"}), GitOpsSettings(), None),
        (
            meta(labels={"app.kubernetes.io/instance": "shop"}),
            LABEL_TRACKING,
            ("argocd", "shop", None),
        ),
        (
            meta(
                labels={
                    "kustomize.toolkit.fluxcd.io/name": "apps",
                    "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
                }
            ),
            GitOpsSettings(),
            ("flux", "apps", "flux-system"),
        ),
        (
            # What helm-controller renders: its release's labels win over Helm's own marks.
            meta(
                labels={
                    "helm.toolkit.fluxcd.io/name": "podinfo",
                    "helm.toolkit.fluxcd.io/namespace": "flux-system",
                    "app.kubernetes.io/managed-by": "Helm",
                },
                annotations={"meta.helm.sh/release-name": "podinfo-podinfo"},
            ),
            GitOpsSettings(),
            ("flux", "podinfo", "flux-system"),
        ),
        (
            meta(
                labels={"app.kubernetes.io/managed-by": "Helm"},
                annotations={
                    "meta.helm.sh/release-name": "redis",
                    "meta.helm.sh/release-namespace": "cache",
                },
            ),
            GitOpsSettings(),
            ("helm", "redis", "cache"),
        ),
        (meta(annotations={"meta.helm.sh/release-name": "redis"}), GitOpsSettings(), None),
        (meta(), GitOpsSettings(), None),
        ({"kind": "Scale", "metadata": {"name": "web"}}, GitOpsSettings(), None),
    ],
)
def test_what_manages_an_object(obj, settings, expected):
    found = managed_by(obj, settings)
    assert (found and (found.tool, found.name, found.namespace)) == expected


def test_label_tracking_is_read_only_when_argo_cd_tracks_by_label():
    assert LABEL_TRACKING.argocd_instance_label == "app.kubernetes.io/instance"
    both = parse_settings({"argocd": {"resourceTrackingMethod": "annotation+label"}})
    assert both.argocd_instance_label is None
    custom = parse_settings(
        {
            "argocd": {
                "resourceTrackingMethod": "label",
                "instanceLabelKey": "argocd.argoproj.io/instance",
            }
        }
    )
    assert custom.argocd_instance_label == "argocd.argoproj.io/instance"
    with pytest.raises(ConfigError, match="resourceTrackingMethod"):
        parse_settings({"argocd": {"resourceTrackingMethod": "labels"}})


def test_what_a_tool_owns_of_a_change():
    changes = [
        {"op": "replace", "path": "/spec/replicas"},
        {"op": "replace", "path": "/data/key"},
        {"op": "replace", "path": "/status/replicas"},
        {"op": "replace", "path": "/metadata/labels/app"},
        {"op": "remove", "path": "/metadata/annotations/team"},
        {"op": "add", "path": "/metadata/annotations/note"},
        {
            "op": "replace",
            "path": "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration",
        },
        {"op": "add", "path": "/metadata/finalizers"},
        {"op": "replace", "path": "/rules/0/verbs"},
    ]
    assert owned_paths(changes) == [
        "/spec/replicas",
        "/data/key",
        "/metadata/labels/app",
        "/metadata/annotations/team",
        "/rules/0/verbs",
    ]


def deployment(replicas: int, image: str) -> dict:
    containers = [{"name": "web", "image": image}]
    return {
        "kind": "Deployment",
        "spec": {"replicas": replicas, "template": {"spec": {"containers": containers}}},
    }


def test_whether_a_later_write_put_the_hand_edited_fields_back():
    before = deployment(2, "nginx:1.27")
    image = ["/spec/template/spec/containers/0/image"]
    assert puts_back("UPDATE", before, image, "UPDATE", deployment(3, "nginx:1.27"))
    assert not puts_back("UPDATE", before, image, "UPDATE", deployment(2, "nginx:1.28"))
    scale = {"kind": "Scale", "spec": {"replicas": 2}}
    assert puts_back("UPDATE", scale, ["/spec/replicas"], "UPDATE", deployment(2, "nginx:1.28"))
    assert not puts_back("UPDATE", scale, ["/spec/replicas"], "UPDATE", deployment(5, "nginx:1.27"))
    assert puts_back("DELETE", before, [], "CREATE", before)
    assert not puts_back("DELETE", before, [], "UPDATE", before)


def test_the_revision_a_source_was_applying():
    running = {
        "status": {
            "operationState": {"operation": {"sync": {"revision": "b"}}},
            "sync": {"revision": "a"},
        }
    }
    assert revision_of(running) == "b"
    assert revision_of({"status": {"history": [{"revision": "a"}, {"revision": "c"}]}}) == "c"
    flux = {
        "status": {"lastAttemptedRevision": "main@sha1:2", "lastAppliedRevision": "main@sha1:1"}
    }
    assert revision_of(flux) == "main@sha1:2"
    assert revision_of({"status": {"sync": {"revisions": ["a1", "b2"]}}}) == "a1,b2"
    assert revision_of({"status": {}}) is None
    assert revision_of(None) is None


def test_the_example_config_keeps_the_writes_revisions_come_from():
    settings = from_args(["--config", str(EXAMPLE_CONFIG)], environ={})
    rules = build_rules(settings.capture)
    sources = [
        s
        for s in [*argocd_story(), *flux_story()]
        if s.name.startswith(
            ("argocd sync", "argocd self-heal ", "flux reconciles", "flux applied")
        )
    ]
    assert {s.body["request"]["kind"]["kind"] for s in sources} == {"Application", "Kustomization"}
    assert all(rules.decide(s.body["request"]).record for s in sources)


def test_a_wrong_gitops_section_stops_the_start(tmp_path: Path):
    config = tmp_path / "config.yaml"
    config.write_text("gitops:\n  actors:\n    - users: [ci]\n      kind: robot\n")
    with pytest.raises(SettingsError, match="kind must be one of"):
        from_args(["--config", str(config)], environ={})

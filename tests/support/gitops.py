"""AdmissionReviews shaped as Argo CD, Flux and people send them, built from the captured ones
(their envelopes kept, the users, options and objects changed): an Application and a
Kustomization whose status moves through a sync, the objects they apply, a person's hand edits
and Kubernetes' own controllers at work."""

from __future__ import annotations

import contextlib
import copy
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from tests.support.collector import CollectorProcess, post_reviews, wait_for
from tests.support.fixtures import load

ARGOCD = "system:serviceaccount:argocd:argocd-application-controller"
ARGOCD_GROUPS = ["system:serviceaccounts", "system:serviceaccounts:argocd", "system:authenticated"]
FLUX = "system:serviceaccount:flux-system:kustomize-controller"
FLUX_GROUPS = [
    "system:serviceaccounts",
    "system:serviceaccounts:flux-system",
    "system:authenticated",
]
DEPLOYMENT_CONTROLLER = "system:serviceaccount:kube-system:deployment-controller"
PEOPLE = ["dev-team", "system:authenticated"]
ARGOCD_REVISION = "8f2c1e0d9b7a6c5e4f3a2b1c0d9e8f7a6b5c4d3e"
FLUX_REVISION = "main@sha1:1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"

# The captured requests whose envelopes are reused: a Deployment created, its status written
# by the deployment controller, a `kubectl scale`, a `kubectl set image`, a custom resource
# and its status patched.
CREATE_DEPLOYMENT, DEPLOYMENT_STATUS, SCALE, SET_IMAGE = 45, 51, 59, 71
CUSTOM_RESOURCE, CUSTOM_STATUS, CONFIGMAP_APPLY = 159, 161, 144

APPLICATION = {"group": "argoproj.io", "version": "v1alpha1", "kind": "Application"}
KUSTOMIZATION = {"group": "kustomize.toolkit.fluxcd.io", "version": "v1", "kind": "Kustomization"}


@dataclass
class Request:
    """One review and what the test expects of its event."""

    name: str
    body: dict[str, Any]

    @property
    def uid(self) -> str:
        return self.body["request"]["uid"]


def review(
    number: int,
    *,
    user: str,
    groups: list[str],
    manager: str | None,
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
) -> dict[str, Any]:
    """The captured review `number` with a new uid, another user, field manager and objects."""
    body = copy.deepcopy(load(number)["body"])
    request = body["request"]
    request["uid"] = str(uuid.uuid4())
    request["userInfo"] = {"username": user, "uid": "", "groups": groups}
    options = dict(request.get("options") or {})
    options.pop("fieldManager", None)
    if manager is not None:
        options["fieldManager"] = manager
    request["options"] = options
    shown = new if new is not None else old
    assert shown is not None
    request["namespace"] = shown["metadata"]["namespace"]
    request["name"] = shown["metadata"]["name"]
    request["object"], request["oldObject"] = new, old
    return body


# Reviews as Argo CD's application controller and Flux's kustomize-controller send them.
by_argocd = partial(review, user=ARGOCD, groups=ARGOCD_GROUPS, manager="argocd-controller")
by_flux = partial(review, user=FLUX, groups=FLUX_GROUPS, manager="kustomize-controller")


def as_kind(body: dict[str, Any], kind: dict[str, str], resource: str) -> dict[str, Any]:
    """A custom resource's review as one of another kind (an Application, a Kustomization)."""
    request = body["request"]
    named = {"group": kind["group"], "version": kind["version"], "resource": resource}
    request["kind"] = request["requestKind"] = dict(kind)
    request["resource"] = request["requestResource"] = named
    return body


class Versions:
    """An object's successive versions, each with the next resourceVersion."""

    def __init__(self, obj: dict[str, Any]) -> None:
        self.current = obj
        self.version = 1000

    def next(self, change: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """(old, new): `change` applied to a copy of the current version."""
        old = self.current
        new = copy.deepcopy(old)
        change(new)
        self.version += 1
        new["metadata"]["resourceVersion"] = str(self.version)
        self.current = new
        return old, new


def source_writes(
    source: Versions, sent: Callable[..., dict[str, Any]], number: int, kind: tuple[dict, str]
) -> Callable[[Callable[[dict], None]], dict[str, Any]]:
    """The reviews of a tool's writes to its own Application or Kustomization (`sent` by it):
    each change to the object's current version, in the envelope of captured review `number`."""

    def write(change: Callable[[dict], None]) -> dict[str, Any]:
        old, new = source.next(change)
        return as_kind(sent(number, old=old, new=new), *kind)

    return write


def deployment(namespace: str, name: str, image: str, replicas: int, **metadata: Any) -> dict:
    obj = copy.deepcopy(load(CREATE_DEPLOYMENT)["body"]["request"]["object"])
    obj["metadata"] = {
        "name": name,
        "namespace": namespace,
        "uid": str(uuid.uuid4()),
        "resourceVersion": "1000",
        "generation": 1,
        **metadata,
    }
    obj["spec"]["replicas"] = replicas
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return obj


def custom(kind: dict[str, str], namespace: str, name: str, spec: dict[str, Any]) -> dict:
    return {
        "apiVersion": f"{kind['group']}/{kind['version']}",
        "kind": kind["kind"],
        "metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid4())},
        "spec": spec,
        "status": {},
    }


def argocd_story() -> list[Request]:
    """Argo CD syncs the Application `shop` (annotation tracking), alice scales its Deployment,
    Argo CD's self-heal scales it back at the same revision."""
    app = Versions(
        custom(APPLICATION, "argocd", "shop", {"source": {"repoURL": "https://git.example/shop"}})
    )
    web = Versions(
        deployment(
            "shop",
            "web",
            "nginx:1.27",
            2,
            annotations={"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:shop/web"},
        )
    )

    def running(obj: dict, automated: bool = False) -> None:
        operation = {"sync": {"revision": ARGOCD_REVISION}, "initiatedBy": {"automated": automated}}
        obj["operation"] = operation
        obj["status"]["operationState"] = {"operation": operation, "phase": "Running"}

    def succeeded(obj: dict) -> None:
        state = obj["status"]["operationState"]
        obj.pop("operation", None)
        state["phase"] = "Succeeded"
        state["syncResult"] = {"revision": ARGOCD_REVISION}
        obj["status"]["sync"] = {"status": "Synced", "revision": ARGOCD_REVISION}
        obj["status"]["history"] = [
            {"id": len(obj["status"].get("history", [])), "revision": ARGOCD_REVISION}
        ]

    def scaled(replicas: int):
        return lambda obj: obj["spec"].update(replicas=replicas)

    application = source_writes(app, by_argocd, CUSTOM_RESOURCE, (APPLICATION, "applications"))

    created = web.current
    status_old, status_new = web.next(lambda obj: obj["status"].update(replicas=2, readyReplicas=2))
    scale_old, scale_new = web.next(scaled(5))
    heal_old, heal_new = web.next(scaled(2))
    return [
        Request("argocd sync starts", application(running)),
        Request(
            "argocd creates",
            by_argocd(CREATE_DEPLOYMENT, old=None, new=created),
        ),
        Request("argocd sync succeeds", application(succeeded)),
        Request(
            "deployment controller",
            review(
                DEPLOYMENT_STATUS,
                user=DEPLOYMENT_CONTROLLER,
                groups=["system:serviceaccounts"],
                manager=None,
                old=status_old,
                new=status_new,
            ),
        ),
        Request(
            "alice scales",
            review(
                SCALE,
                user="alice",
                groups=PEOPLE,
                manager="kubectl-scale",
                old=_scale(scale_old),
                new=_scale(scale_new),
            ),
        ),
        Request("argocd self-heal starts", application(lambda obj: running(obj, automated=True))),
        Request(
            "argocd self-heals",
            by_argocd(SET_IMAGE, old=heal_old, new=heal_new),
        ),
        Request("argocd self-heal succeeds", application(succeeded)),
    ]


def flux_story() -> list[Request]:
    """Flux's Kustomization `apps` applies the Deployment `blog`; bob changes its image; Flux
    applies it again at the same revision without putting the image back."""
    kustomization = Versions(
        custom(KUSTOMIZATION, "flux-system", "apps", {"path": "./apps", "prune": True})
    )
    labels = {
        "kustomize.toolkit.fluxcd.io/name": "apps",
        "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
    }
    blog = Versions(deployment("blog", "blog", "ghost:5.0", 1, labels=dict(labels)))

    status = source_writes(kustomization, by_flux, CUSTOM_STATUS, (KUSTOMIZATION, "kustomizations"))

    def attempted(obj: dict) -> None:
        obj["status"]["lastAttemptedRevision"] = FLUX_REVISION
        obj["status"]["conditions"] = [
            {"type": "Ready", "status": "Unknown", "reason": "Progressing"}
        ]

    def applied(obj: dict) -> None:
        obj["status"]["lastAppliedRevision"] = FLUX_REVISION
        obj["status"]["conditions"] = [
            {"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded"}
        ]

    def image(obj: dict) -> None:
        obj["spec"]["template"]["spec"]["containers"][0]["image"] = "ghost:5.1"

    created = blog.current
    image_old, image_new = blog.next(image)
    label_old, label_new = blog.next(
        lambda obj: obj["metadata"]["labels"].update({"app.kubernetes.io/version": "5"})
    )
    return [
        Request("flux reconciles", status(attempted)),
        Request(
            "flux creates",
            by_flux(CREATE_DEPLOYMENT, old=None, new=created),
        ),
        Request("flux applied", status(applied)),
        Request(
            "bob sets the image",
            review(
                SET_IMAGE,
                user="bob",
                groups=PEOPLE,
                manager="kubectl-set",
                old=image_old,
                new=image_new,
            ),
        ),
        Request(
            "flux applies again",
            by_flux(SET_IMAGE, old=label_old, new=label_new),
        ),
    ]


def unmanaged_story() -> list[Request]:
    """bob's `kubectl apply` to a ConfigMap nothing manages: the captured review as it was."""
    body = copy.deepcopy(load(CONFIGMAP_APPLY)["body"])
    body["request"]["uid"] = str(uuid.uuid4())
    return [Request("bob applies a configmap", body)]


def _scale(deployment: dict[str, Any]) -> dict[str, Any]:
    """The Scale of a Deployment, as `kubectl scale` sends it (no labels, no annotations)."""
    metadata = deployment["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {key: metadata[key] for key in ("name", "namespace", "uid", "resourceVersion")},
        "spec": {"replicas": deployment["spec"]["replicas"]},
        "status": {"replicas": 2, "selector": "app=nginx"},
    }


@contextlib.contextmanager
def stories_recorded(data_dir: Path) -> Iterator[CollectorProcess]:
    """A collector with the three stories recorded and alice's hand edit decided (put back):
    what the front ends' tests read."""
    stories = [*argocd_story(), *flux_story(), *unmanaged_story()]
    with CollectorProcess(data_dir) as collector:
        assert all(r.status_code == 200 for r in post_reviews(collector, [s.body for s in stories]))
        with collector.client() as client:

            def decided() -> bool:
                params = {"handEdit": "true", "managedBy": "argocd"}
                items = client.get("/api/v1/events", params=params).json()["items"]
                return any(e["revertedBy"] for e in items)

            assert wait_for(decided, 10)
        yield collector

"""Discovery documents (`/apis`, `/apis/logistis.io`, `/apis/logistis.io/v1alpha1`), from the
resource table."""

from __future__ import annotations

from typing import Any

from logistis.collector.kubeapi.resources import GROUP, GROUP_VERSION, RESOURCES, VERSION

Document = dict[str, Any]


def api_group() -> Document:
    version = {"groupVersion": GROUP_VERSION, "version": VERSION}
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": GROUP,
        "versions": [version],
        "preferredVersion": version,
    }


def api_group_list() -> Document:
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [api_group()]}


def api_resource_list() -> Document:
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": GROUP_VERSION,
        "resources": [
            {
                "name": r.plural,
                "singularName": r.singular,
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": list(r.verbs),
                "shortNames": list(r.short_names),
                "categories": ["logistis"],
            }
            for r in RESOURCES
        ],
    }

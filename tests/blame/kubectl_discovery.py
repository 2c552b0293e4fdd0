"""A stand-in kubectl for a cluster that serves the Widget custom resource with short name `wd`.

`kubectl api-resources` prints what the real one prints for such a cluster (or fails, with
`FAKE_KUBECTL_DISCOVERY=fail`, as it does when the cluster cannot be reached); every other
command goes to the port-forward stand-in, tests/tui/fake_kubectl.py.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

API_RESOURCES = """\
NAME                                SHORTNAMES   APIVERSION                        NAMESPACED   KIND
bindings                                         v1                                true         Binding
configmaps                          cm           v1                                true         ConfigMap
namespaces                          ns           v1                                false        Namespace
pods                                po           v1                                true         Pod
customresourcedefinitions           crd,crds     apiextensions.k8s.io/v1           false        CustomResourceDefinition
deployments                         deploy       apps/v1                           true         Deployment
widgets                             wd           example.com/v1                    true         Widget
"""
UNREACHABLE = (
    'couldn\'t get current server API group list: Get "https://127.0.0.1:6443/api?timeout=5s": '
    "dial tcp 127.0.0.1:6443: connect: connection refused"
)


def main() -> None:
    if sys.argv[1:2] == ["api-resources"]:
        if os.environ.get("FAKE_KUBECTL_DISCOVERY") == "fail":
            print(f"E1125 15:18:02.324863    5392 memcache.go:265] {UNREACHABLE}", file=sys.stderr)
            sys.exit(1)
        print(API_RESOURCES, end="")
        sys.exit(0)
    runpy.run_path(str(Path(__file__).parents[1] / "tui" / "fake_kubectl.py"), run_name="__main__")


if __name__ == "__main__":
    main()

"""A collector serving the Kubernetes API, and the apiserver's front proxy that calls it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.collector import CollectorProcess, post_reviews
from tests.support.frontproxy import FrontProxy

TABLE_ACCEPT = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,"
    "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
)
GV = "/apis/logistis.io/v1alpha1"


@pytest.fixture(scope="session")
def front_proxy(tmp_path_factory: pytest.TempPathFactory) -> FrontProxy:
    return FrontProxy(tmp_path_factory.mktemp("front-proxy"))


@pytest.fixture(scope="session")
def kube_collector(
    tmp_path_factory: pytest.TempPathFactory, front_proxy: FrontProxy
) -> Iterator[CollectorProcess]:
    """One collector for the session serving the Kubernetes API, all fixtures posted."""
    collector = CollectorProcess(
        tmp_path_factory.mktemp("kube") / "data", *front_proxy.collector_args()
    ).start()
    try:
        assert all(r.status_code == 200 for r in post_reviews(collector))
        yield collector
    finally:
        collector.stop()

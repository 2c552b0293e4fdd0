"""The collector's way into the Kubernetes API (self-managed TLS, the front proxy's ConfigMap):
the pod's service account, or a kubeconfig file (`--kubeconfig`) for a collector that runs
outside the cluster it records."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from logistis.collector.errors import CollectorError

if TYPE_CHECKING:
    from kubernetes import client


class ClusterAccessError(CollectorError):
    """No way into the Kubernetes API; the message says why."""


def api_client(kubeconfig: Path | None) -> client.ApiClient:
    """A client with the kubeconfig's current context, or else the pod's service account."""
    # Imported here: the official client costs a third of a second at every start of a
    # collector that never talks to the apiserver.
    from kubernetes import client, config

    configuration = client.Configuration()
    try:
        if kubeconfig is None:
            config.load_incluster_config(client_configuration=configuration)
        else:
            config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    except (config.ConfigException, OSError) as error:
        where = f"--kubeconfig {kubeconfig}" if kubeconfig else "not in a pod"
        raise ClusterAccessError(f"{where}: {error}") from error
    return client.ApiClient(configuration)

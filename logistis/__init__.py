"""logistis: who changed what in a Kubernetes cluster, where, when and how.

`logistis.collector` is the server side (admission webhook, store, query API);
`logistis.tui` the clients (the terminal UI and the `kubectl blame` plugin).
"""

from typing import Any

__all__ = ["__version__"]


def __getattr__(name: str) -> Any:
    # Looked up when asked for (logistis/version.py says why).
    if name == "__version__":
        from logistis.version import installed_version

        return installed_version()
    raise AttributeError(f"module 'logistis' has no attribute {name!r}")

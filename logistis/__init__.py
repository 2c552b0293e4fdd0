"""logistis: who changed what in a Kubernetes cluster, where, when and how.

`logistis.collector` is the server side (admission webhook, store, query API);
`logistis.tui` the clients (the terminal UI and the `kubectl blame` plugin).
"""

from logistis.version import __version__

__all__ = ["__version__"]

"""logistis: who changed what in a Kubernetes cluster, where, when and how.

`logistis.collector` is the server side (admission webhook, store, query API);
`logistis.tui` the clients (the terminal UI and the `kubectl blame` plugin).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("logistis")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

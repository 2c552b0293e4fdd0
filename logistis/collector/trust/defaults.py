"""Where self-managed TLS lives in a cluster unless told otherwise: the names the manifests
give its Secret and the ValidatingWebhookConfiguration, and how long before it expires a
certificate is renewed. Apart from `certmanager.py`, so that reading the settings (as the
deriver's process does) does not import the cryptography that issuing certificates needs."""

from __future__ import annotations

import datetime as dt

DEFAULT_SECRET = "logistis/logistis-collector-tls"
DEFAULT_WEBHOOK_CONFIGURATION = "logistis"
DEFAULT_RENEW_BEFORE = dt.timedelta(days=30)

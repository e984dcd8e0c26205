"""HTTP adapters: the alert webhooks and the read-only incident API."""

"""Outbound integrations (PagerDuty, Statuspage, webhooks) carried out by the dispatcher."""

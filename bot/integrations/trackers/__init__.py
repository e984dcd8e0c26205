"""Ticket trackers (GitHub Issues, Jira Cloud, Linear) that follow-ups become tickets in."""

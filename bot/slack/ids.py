"""Every Slack action id and view callback id warroom uses, in one place."""

from enum import StrEnum


class ActionId(StrEnum):
    """Buttons on the incident card."""

    ACKNOWLEDGE = "incident_acknowledge"
    ADD_NOTE = "incident_add_note"
    RESOLVE = "incident_resolve"
    REOPEN = "incident_reopen"  # on the "still firing after resolve" notice
    JOIN_CHANNEL = "home_join_channel"  # on the App Home dashboard


class CallbackId(StrEnum):
    """Modals."""

    DECLARE = "incident_declare"
    NOTE = "incident_note"


class BlockId(StrEnum):
    """Inputs inside modals."""

    TITLE = "title"
    SEVERITY = "severity"
    PRIVACY = "privacy"
    NOTE = "note"

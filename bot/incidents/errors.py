"""Domain errors: shown to the responder, and nothing is changed."""


class DomainError(ValueError):
    """A command that is well formed but cannot apply to this incident now."""

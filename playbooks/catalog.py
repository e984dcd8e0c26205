"""A set of playbooks and the choice of one for an alert."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from playbooks.errors import PlaybookError
from playbooks.schema import Playbook

DEFAULT_ID = "default"

# Used when a folder has neither a matching playbook nor one without `match`, so an alert
# still gets an incident channel and a way through it.
BUILTIN_DEFAULT = Playbook.model_validate(
    {
        "id": DEFAULT_ID,
        "title": "Incident",
        "severity": "sev3",
        "reminders": {"status_update": "30m"},
        "stages": [
            {"id": "respond", "title": "Respond", "tasks": ["Assign a commander"]},
            {"id": "identify", "title": "Identify", "enter_on": "identified"},
            {"id": "restore", "title": "Restore", "enter_on": "mitigated"},
            {"id": "review", "title": "Review", "enter_on": "resolved"},
        ],
    }
)


class Catalog:
    """Playbooks by id, and the one that fits an alert's labels."""

    def __init__(self, playbooks: Iterable[Playbook] = ()) -> None:
        self._by_id: dict[str, Playbook] = {}
        for playbook in playbooks:
            if playbook.id in self._by_id:
                raise PlaybookError(f"playbook id {playbook.id!r} is used twice")
            self._by_id[playbook.id] = playbook
        # Chosen once per alert, thousands a second in a storm: the order is fixed here.
        self._specific_first = sorted(
            (playbook for playbook in self._by_id.values() if playbook.match),
            key=lambda playbook: (-len(playbook.match), playbook.id),
        )
        self._default = self._fallback()

    def get(self, playbook_id: str) -> Playbook | None:
        return self._by_id.get(playbook_id)

    def all(self) -> list[Playbook]:
        """Return every playbook, ordered by id."""
        return [self._by_id[key] for key in sorted(self._by_id)]

    def __iter__(self) -> Iterator[Playbook]:
        return iter(self.all())

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, playbook_id: object) -> bool:
        return playbook_id in self._by_id

    def default(self) -> Playbook:
        """Return the fallback: the playbook without `match` (``default`` first), else built-in."""
        return self._default

    def _fallback(self) -> Playbook:
        fallbacks = [playbook for playbook in self.all() if not playbook.match]
        fallbacks.sort(key=lambda playbook: (playbook.id != DEFAULT_ID, playbook.id))
        return fallbacks[0] if fallbacks else BUILTIN_DEFAULT

    def select(self, labels: Mapping[str, str]) -> Playbook:
        """Pick the playbook whose match labels all equal the alert's, most specific first."""
        for playbook in self._specific_first:
            if playbook.matches(labels):
                return playbook
        return self._default

"""Statuspage's incidents API as respx routes, shaped as its documentation says.

Requests and answers follow https://developer.statuspage.io/ (tag "Incidents"):
- `POST /pages/{page_id}/incidents` (operation postPagesPageIdIncidents) takes
  `{"incident": {name, status, body, scheduled_for, scheduled_until, scheduled_remind_prior,
  scheduled_auto_in_progress, scheduled_auto_completed, metadata, ...}}` and answers 201
  with the Incident object (id, name, status, scheduled_for, scheduled_until, metadata, ...);
- `PATCH /pages/{page_id}/incidents/{incident_id}` (patchPagesPageIdIncidentsIncidentId)
  takes the same envelope and answers 200 with the Incident;
- `DELETE /pages/{page_id}/incidents/{incident_id}` (deletePagesPageIdIncidentsIncidentId)
  answers 200 with the deleted Incident.
Realtime statuses are investigating, identified, monitoring, resolved; scheduled ones
scheduled, in_progress, verifying, completed (the Incident model's `status` field, as the
generated client of the same OpenAPI, alissonlinneker/statuspage-php-sdk
docs/Model/PostPagesPageIdIncidentsIncident.md, lists it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import respx

URL = "https://statuspage.test/v1/"
PAGE = "pg123"
KEY = "sp-secret-key-0123456789"
INCIDENTS = f"{URL}pages/{PAGE}/incidents"
SETTINGS = {
    "WARROOM_STATUSPAGE_API_KEY": KEY,
    "WARROOM_STATUSPAGE_PAGE_ID": PAGE,
    "WARROOM_STATUSPAGE_URL": URL,
}


@dataclass
class FakeStatuspage:
    """The page's incidents as Statuspage keeps them, and every request it was sent."""

    incidents: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, Any] | None]] = field(default_factory=list)
    refuse: int | None = None  # answer every call with this status (an error body)

    def install(self, mock: respx.MockRouter) -> None:
        """Route the page's incident calls to this fake."""
        mock.route(url__startswith=INCIDENTS).mock(side_effect=self._answer)

    def bodies(self, method: str) -> list[dict[str, Any]]:
        """The `incident` objects sent with `method`, in order."""
        return [body["incident"] for m, _, body in self.requests if m == method and body]

    def _answer(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        path = request.url.path
        self.requests.append((request.method, path, body))
        if request.headers.get("Authorization") != f"OAuth {KEY}":
            return httpx.Response(401, json={"error": "Could not authenticate"})
        if self.refuse is not None:
            return httpx.Response(self.refuse, json={"error": ["Name can't be blank"]})
        public_id = path.rsplit("/", 1)[-1]
        if request.method == "POST":
            public_id = f"sp{len(self.incidents) + 1}"
            self.incidents[public_id] = {"id": public_id, "page_id": PAGE, **body["incident"]}
            return httpx.Response(201, json=self.incidents[public_id])
        if public_id not in self.incidents:
            return httpx.Response(404, json={"error": "Incident not found"})
        if request.method == "PATCH":
            self.incidents[public_id].update(body["incident"])
            return httpx.Response(200, json=self.incidents[public_id])
        if request.method == "DELETE":
            return httpx.Response(200, json=self.incidents.pop(public_id))
        return httpx.Response(200, json=self.incidents[public_id])

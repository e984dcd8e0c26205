"""`GET /api/incidents` over real HTTP on both databases: filters, cursor paging that holds
while incidents keep opening, and a 422 naming the parameter for anything it cannot take."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from bot.incidents.clock import SimulatedClock
from bot.incidents.commands import parse_command
from bot.incidents.service import execute
from storage.models import Incident
from storage.unit_of_work import unit_of_work
from tests.bot.web.conftest import Served


def alert(web: Served, title: str, severity: str, service: str) -> int:
    """Open an incident by a generic alert of its own group."""
    body = {"title": title, "severity": severity, "labels": {"service": service}, "group": title}
    answer = web.post("generic", json.dumps(body).encode())
    assert answer.status_code == 202, answer.text
    return int(answer.json()["incidents"][0]["id"])


def declare(web: Served, text: str) -> int:
    """`/incident <text>` outside any incident (declare, drill), committed."""
    with unit_of_work(web.runtime.sessions) as uow:
        command = parse_command(text)
        outcome = execute(uow, web.runtime.domain, command, incident=None, actor="U0ALICE")
        assert outcome.incident is not None and outcome.incident.id is not None
        return outcome.incident.id


def listed(web: Served, **params: Any) -> dict[str, Any]:
    response = web.get("/api/incidents", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def ids(web: Served, **params: Any) -> list[int]:
    return [item["id"] for item in listed(web, **params)["incidents"]]


def test_filters_by_status_severity_playbook_drill_and_opening_time(
    web: Served, clock: SimulatedClock
) -> None:
    orders = alert(web, "Orders replica lag", "warning", "orders-db")  # 09:56Z, database-failover
    clock.advance(timedelta(minutes=10))
    matching = alert(web, "Matching engine errors", "critical", "matching-engine")  # 10:06Z
    clock.advance(timedelta(minutes=10))
    drill = declare(web, "drill default")  # 10:16Z
    clock.advance(timedelta(minutes=10))
    declared = declare(web, "declare Checkout slow sev4")  # 10:26Z
    with unit_of_work(web.runtime.sessions) as uow:
        incident = uow.session.get(Incident, orders)
        command = parse_command("resolve fixed")
        execute(uow, web.runtime.domain, command, incident=incident, actor="U0ALICE")

    assert ids(web) == [declared, drill, matching, orders]
    assert ids(web, severity="sev1") == [matching]
    assert ids(web, severity="sev4") == [declared]
    assert ids(web, playbook="database-failover") == [orders]
    assert ids(web, playbook="default") == [declared, drill]
    assert ids(web, playbook="no-such-playbook") == []
    assert ids(web, drill="true") == [drill]
    assert ids(web, drill="false") == [declared, matching, orders]
    assert ids(web, status="resolved") == [orders]
    assert ids(web, status="open", drill="false") == [declared, matching]
    assert ids(web, since="2021-03-10T10:06:00Z") == [declared, drill, matching]
    assert ids(web, until="2021-03-10T10:06:00Z") == [orders]  # until is exclusive
    # The same instants in Hong Kong time.
    assert ids(web, since="2021-03-10T18:06:00+08:00", until="2021-03-10T18:26:00+08:00") == [
        drill,
        matching,
    ]
    [item] = listed(web, drill="true")["incidents"]
    assert (item["drill"], item["opened_at"]) == (True, "2021-03-10T10:16:00Z")
    assert listed(web, severity="sev2")["incidents"] == []


def test_a_cursor_pages_on_without_repeats_or_gaps_while_incidents_open(
    web: Served, clock: SimulatedClock
) -> None:
    first = [alert(web, f"Queue {n} stalled", "warning", f"queue-{n}") for n in range(5)]
    page = listed(web, limit=2)
    assert [i["id"] for i in page["incidents"]] == [first[4], first[3]]
    cursor = page["next_cursor"]
    assert isinstance(cursor, str)

    # Opened while a client pages: newer than every page, so they shift nothing.
    clock.advance(timedelta(minutes=1))
    newer = [alert(web, f"Cache {n} cold", "warning", f"cache-{n}") for n in range(2)]
    page = listed(web, limit=2, cursor=cursor)
    assert [i["id"] for i in page["incidents"]] == [first[2], first[1]]
    page = listed(web, limit=2, cursor=page["next_cursor"])
    assert [i["id"] for i in page["incidents"]] == [first[0]]
    assert page["next_cursor"] is None
    assert ids(web, limit=2) == [newer[1], newer[0]]

    # Filters hold across pages: the same filter, the next page of it.
    page = listed(web, limit=1, status="open", since="2021-03-10T09:57:00Z")
    assert [i["id"] for i in page["incidents"]] == [newer[1]]
    since = "2021-03-10T09:57:00Z"
    page = listed(web, limit=1, status="open", since=since, cursor=page["next_cursor"])
    assert ([i["id"] for i in page["incidents"]], page["next_cursor"]) == ([newer[0]], None)


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("offset=100", "offset"),
        ("status=open&sort=id", "sort"),
        ("severity=sev9", "severity"),
        ("severity=critical", "severity"),
        ("playbook=Trading%20Engine", "playbook"),
        ("drill=yes", "drill"),
        ("since=2021-03-10T09:00:00", "since"),  # no offset: whose 09:00?
        ("since=yesterday", "since"),
        ("until=2021-13-01T00:00:00Z", "until"),
        ("since=2021-03-10T10:00:00Z&until=2021-03-10T09:00:00Z", "until"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=eyJhdCI6ICJ4In0", "cursor"),  # base64 JSON, but not a position
        ("status=open&status=resolved", "status"),
    ],
)
def test_what_it_cannot_take_is_a_422_naming_the_parameter(
    web: Served, query: str, parameter: str
) -> None:
    alert(web, "Orders replica lag", "warning", "orders-db")
    response = web.get(f"/api/incidents?{query}")
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["parameter"] == parameter
    assert body["error"].startswith(f"{parameter}: ")


def test_the_openapi_schema_documents_every_parameter(web: Served) -> None:
    document = web.get("/openapi.json").json()
    operation = document["paths"]["/api/incidents"]["get"]
    names = [p["name"] for p in operation["parameters"] if p["in"] == "query"]
    assert names == ["status", "severity", "playbook", "drill", "since", "until", "cursor", "limit"]
    listed_fields = document["components"]["schemas"]["IncidentList"]["properties"]
    assert set(listed_fields) == {"incidents", "next_cursor"}


def test_pages_read_to_the_end_show_every_incident_once_newest_first(
    web: Served, clock: SimulatedClock
) -> None:
    # Two or three at each instant: pages end between incidents opened at the same time.
    opened = []
    for n in range(23):
        if n % 3 == 0:
            clock.advance(timedelta(minutes=1))
        opened.append(declare(web, f"declare Batch job {n} failed sev3"))

    shown: list[int] = []
    page = listed(web, limit=4)
    pages = 1
    while page["next_cursor"] is not None:
        shown += [item["id"] for item in page["incidents"]]
        page = listed(web, limit=4, cursor=page["next_cursor"])
        pages += 1
    shown += [item["id"] for item in page["incidents"]]

    assert shown == sorted(opened, reverse=True)
    assert pages == 6


def test_a_listed_incident_says_what_its_detail_says(web: Served, clock: SimulatedClock) -> None:
    opened = alert(web, "Orders replica lag", "warning", "orders-db")
    clock.advance(timedelta(minutes=20))
    with unit_of_work(web.runtime.sessions) as uow:
        incident = uow.session.get(Incident, opened)
        for text in ("role commander <@U0BOB>", "resolve fixed", "time resolved 18:10"):
            execute(uow, web.runtime.domain, parse_command(text), incident=incident, actor="U0A")

    [item] = listed(web)["incidents"]
    detail = web.get(f"/api/incidents/{opened}").json()

    assert item == {name: detail[name] for name in item}
    assert (item["resolved_at"], item["alert_names"]) == (
        "2021-03-10T10:10:00Z",
        ["Orders replica lag"],
    )

"""The finance routes as a finance app pages through them: filters, cursors, and fleets kept apart."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest

from shared.adapters.billing_table import BillingTable
from shared.models.invoices_index import InvoiceRecord
from tests.frames import api_event

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fleet(aws) -> str:
    """A fleet with twelve invoices, one a day from 1 October (a series of their own, FT-)."""
    fleet_id = f"fin-{uuid.uuid4().hex[:8]}"
    table = BillingTable(aws.billing_table)
    for day in range(12):
        table.record_invoice(
            InvoiceRecord(
                invoice_number=f"FT-{day + 1:07d}",
                fleet_id=fleet_id,
                seller_id="laddvakt-cpo",
                session_id=f"LV-X:{day}",
                issue_date=date(2026, 10, 1) + timedelta(days=day),
                currency="SEK",
                net=Decimal("10.00"),
                vat=Decimal("2.50"),
                gross=Decimal("12.50"),
                keys={"json": f"invoices/laddvakt-cpo/2026/10/FT-{day + 1:07d}.json"},
            )
        )
    return fleet_id


def get(handlers, context, path, fleet_id, **query):
    response = handlers["fleet_api"].lambda_handler(
        api_event(path, fleet_id, groups="finance", query={k: str(v) for k, v in query.items()} or None),
        context,
    )
    return response["statusCode"], json.loads(response["body"])


def test_pages_follow_one_another_to_the_last_invoice(handlers, context, fleet):
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        status, page = get(
            handlers, context, "/invoices", fleet, limit=5, **({"cursor": cursor} if cursor else {})
        )
        assert status == 200
        seen += [i["invoice_number"] for i in page["invoices"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    assert seen == [f"FT-{n:07d}" for n in range(1, 13)]


def test_issue_dates_filter_both_ends_inclusive(handlers, context, fleet):
    status, page = get(
        handlers, context, "/invoices", fleet, issued_from="2026-10-03", issued_to="2026-10-05"
    )
    assert status == 200
    assert [i["issue_date"] for i in page["invoices"]] == ["2026-10-03", "2026-10-04", "2026-10-05"]


def test_a_cursor_from_another_fleet_or_made_up_is_refused(handlers, context, fleet):
    _, page = get(handlers, context, "/invoices", fleet, limit=2)
    for cursor in (page["next_cursor"], "not-a-cursor", "eyJwayI6ICJGTEVFVCNub3JkdmluZCIsICJzayI6ICJ4In0="):
        status, problem = get(handlers, context, "/invoices", "nordvind", cursor=cursor)
        assert (status, problem["title"]) == (400, "Bad Request"), cursor


def test_bad_filters_are_a_clear_422_never_a_500(handlers, context, fleet):
    for query in ({"limit": 0}, {"limit": 101}, {"issued_from": "yesterday"}):
        status, _ = get(handlers, context, "/invoices", fleet, **query)
        assert status == 422, query


def test_another_fleet_sees_none_of_them(handlers, context, fleet):
    status, page = get(
        handlers, context, "/invoices", "nordvind", issued_from="2026-10-01", issued_to="2026-10-12"
    )
    assert status == 200 and all(i["session_id"].startswith("LV-X:") is False for i in page["invoices"])
    status, _ = get(handlers, context, "/invoices/FT-0000001", "nordvind")
    assert status == 404

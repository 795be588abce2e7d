"""A site's recent stays as DynamoDB holds them: the stays item keeps the shape the previous
release wrote and read (three-element stays, no other fields), and the energy each stay took is an
item beside it, so Lambdas of both releases read each other's writes while a deploy replaces them."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import NamedTuple

import boto3
import pytest
from pydantic import AwareDatetime, BaseModel, ConfigDict

from shared.adapters.registry_table import RegistryTable
from shared.models.profiles import SiteStays, Stay

pytestmark = pytest.mark.integration


class _PreviousStay(NamedTuple):
    session_id: str
    plugged_in_s: int
    stay_s: int


class _PreviousSiteStays(BaseModel):
    """`SiteStays` as the release before the energy was kept validated it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    site_id: str
    fleet_id: str
    stays: list[_PreviousStay] = []
    updated_at: AwareDatetime | None = None
    version: int = 0


def _raw(aws, site: str, sk: str) -> dict:
    table = boto3.resource("dynamodb").Table(aws.registry_table)
    return table.get_item(Key={"pk": f"SITE#{site}", "sk": sk}, ConsistentRead=True)["Item"]


def test_stays_with_their_energy_read_back_whole_and_as_the_previous_release_reads_them(aws):
    # Given a site's stays, one with its energy and one whose energy is unknown
    site = "stays-both-releases"
    registry = RegistryTable(aws.registry_table)
    stays = SiteStays(
        site_id=site,
        fleet_id="nordvind",
        stays=[Stay("a", 1_790_000_000, 7200, Decimal("20.5")), Stay("b", 1_790_010_000, 3600)],
        version=1,
    )
    # When they are stored
    registry.put_site_stays(stays)
    # Then they read back as they were
    assert registry.site_stays(site) == stays
    live = registry.live_context([], [], [site], stay_energy=True)
    assert live.site_stays[site] == stays
    # And the fleet's status, which does not ask for the energy, reads the stays item alone
    plain = RegistryTable(aws.registry_table).live_context([], [], [site])
    assert [s.energy_kwh for s in plain.site_stays[site].stays] == [None, None]
    # And a Lambda of the previous release reads the stays item as it always did
    previous = _PreviousSiteStays.model_validate_json(_raw(aws, site, "STAYS")["document"])
    assert [tuple(s) for s in previous.stays] == [("a", 1_790_000_000, 7200), ("b", 1_790_010_000, 3600)]
    # And the energy is beside it, as exact decimal text
    assert json.loads(_raw(aws, site, "STAY_ENERGY")["document"]) == {"a": "20.5"}


def test_a_stay_the_previous_release_added_reads_with_its_energy_unknown(aws):
    # Given stays stored by this release
    site = "stays-previous-release"
    registry = RegistryTable(aws.registry_table)
    registry.put_site_stays(
        SiteStays(
            site_id=site, fleet_id="nordvind", stays=[Stay("a", 1_790_000_000, 7200, Decimal(20))], version=1
        )
    )
    # When a Lambda of the previous release adds a stay (it rewrites the stays item only)
    item = _raw(aws, site, "STAYS")
    document = json.loads(item["document"])
    document["stays"].append(["c", 1_790_020_000, 1800])
    document["version"] = 2
    boto3.resource("dynamodb").Table(aws.registry_table).put_item(
        Item={**item, "version": 2, "document": json.dumps(document)}
    )
    # Then both stays read back, the earlier one with its energy, the new one without
    stays = registry.site_stays(site)
    assert stays is not None
    assert stays.stays == [Stay("a", 1_790_000_000, 7200, Decimal(20)), Stay("c", 1_790_020_000, 1800)]
    # And only the stay with its energy feeds the arrival reserve
    assert [p.energy_kwh for p in stays.past_stays()] == [Decimal(20)]
    # And this release's next write keeps every energy it knows, over the version it read
    registry.put_site_stays(stays.model_copy(update={"version": 3}))
    assert json.loads(_raw(aws, site, "STAY_ENERGY")["document"]) == {"a": "20"}

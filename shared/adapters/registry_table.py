"""The registry table: operator, fleets, sites, chargers (with live connector state), vehicles,
drivers, tokens, and the transaction-id counter.

Item layout (partition `pk`, sort `sk`; GSI `by_fleet` on `gsi1pk`/`gsi1sk` lists a fleet's
things in one query):

| pk                 | sk               | gsi1pk       | gsi1sk                          |
|--------------------|------------------|--------------|---------------------------------|
| OPERATOR           | META             |              |                                 |
| FLEET#{id}         | META             | FLEET#{id}   | FLEET                           |
| SITE#{id}          | META             | FLEET#{f}    | SITE#{id}                       |
| SITE#{id}          | STAYS            |              |                                 |
| SITE#{id}          | STAY_ENERGY      |              |                                 |
| CHARGER#{id}       | META             | FLEET#{f}    | CHARGER#{id}                    |
| CHARGER#{id}       | STATE            | FLEET#{f}    | LIVE#{id}#STATE                 |
| CHARGER#{id}       | CONNECTOR#{nnn}  | FLEET#{f}    | LIVE#{id}#CONNECTOR#{nnn}       |
| CHARGER#{id}       | STATUS#{t}#{nnn} |              |                                 |
| CHARGER#{id}       | OUTAGE#{t}       |              |                                 |
| VEHICLE#{id}       | META             | FLEET#{f}    | VEHICLE#{id}                    |
| VEHICLE#{id}       | NEEDS            | FLEET#{f}    | VEHICLE#{id}#NEEDS              |
| VEHICLE#{id}       | PROFILE          |              |                                 |
| VEHICLE#{id}       | TAPER            |              |                                 |
| DRIVER#{id}        | META             | FLEET#{f}    | DRIVER#{id}                     |
| TOKEN#{idTag}      | META             | FLEET#{f}    | TOKEN#{idTag}                   |
| COUNTER            | transaction_id   |              |                                 |
| TARIFF#{id}        | V#{last_updated} |              |                                 |

A tariff is stored once per version (its OCPI `last_updated`), as the exact JSON it was imported
as; versions are never overwritten, so a session can always be priced with the version it
started under.

A vehicle's charging needs (departure, target) are one item beside it, written by the fleet API
and read by the charging estimator and scheduler. Its profile (what its closed sessions taught:
past visits, the fitted taper) is another, and the taper points it was fit from a third; both are
written once per closed session in one transaction under an optimistic lock on the profile's
`version`, kept out of the fleet index; the fleet's status reads the profile alone, in batches.
A site's recent stays (for the departure estimate's site history) are one item beside the site,
written by the same step under the same kind of lock, and the energy each took (for the depot
planner's arrival reserve) a second, in the same transaction: the stays item keeps the shape the
release before it wrote, so Lambdas of either release read what the other wrote while a deploy
replaces them (a stay the previous release added has no energy and is left out of the reserve).

Records a fleet admin writes through the API carry their `fleet_id`; every such write is
conditional on it, so an id another fleet already uses is refused atomically, and a delete only
ever removes the caller's own record.

Each charger's live state is its own items, written only by that charger's frames: no item is
written by every message of a fleet. Its health history stays in its own partition and out of
the fleet index (a fleet's query never reads history): `STATUS#{t}#{nnn}` is a connector's status
change at the charger's time `t`, `OUTAGE#{t}` a gap in contact that a frame ended at our time
`t` (its `start` is the last frame before it). Times in keys are UTC with microseconds, so keys
sort by time. Records are stored as their model's JSON form, so Decimals
keep their exact text.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError
from pydantic import TypeAdapter

from shared.adapters.aws import aws_errors, dynamodb_table, error_code
from shared.domain.charger_health import Outage, StatusEvent
from shared.domain.errors import Conflict, NotFound, PartyNotFound, SiteNotFound
from shared.domain.ports import ConnectorStatusReport
from shared.models.ocpi import Tariff, TariffError, parse_tariff, to_json
from shared.models.profiles import EvChargingNeeds, LiveContext, SiteStays, TaperSession, VehicleProfile
from shared.models.registry import (
    Charger,
    ChargerPlacement,
    ChargingNeeds,
    Driver,
    Fleet,
    Operator,
    RegistryDocument,
    RegistryRecords,
    Site,
    Token,
    TokenGrant,
    Vehicle,
)

BY_FLEET_INDEX = "by_fleet"
# The `by_fleet` range of the chargers' live items (STATE, CONNECTOR#…): apart from their records,
# so the fleet's live state is one query that reads nothing else.
LIVE_PREFIX = "LIVE#"
VEHICLE_PREFIX = "VEHICLE#"
# BatchGetItem reads at most 100 keys a request.
_BATCH_GET = 100
_META = "META"
_NEEDS = "NEEDS"
_PROFILE = "PROFILE"
_STAYS = "STAYS"
_STAY_ENERGY = "STAY_ENERGY"
_TAPER = "TAPER"
_TAPER_SESSIONS = TypeAdapter(list[TaperSession])
_SYSTEM_FIELDS = {"pk", "sk", "gsi1pk", "gsi1sk", "kind"}

RecordKind = Literal["fleet", "site", "charger", "vehicle", "driver", "token"]
_PREFIX: dict[RecordKind, str] = {
    "fleet": "FLEET#",
    "site": "SITE#",
    "charger": "CHARGER#",
    "vehicle": "VEHICLE#",
    "driver": "DRIVER#",
    "token": "TOKEN#",
}
# The kinds whose partition holds more than the record: a charger's live state, a vehicle's needs.
_WITH_CHILDREN: set[RecordKind] = {"charger", "vehicle"}


def record_key(kind: RecordKind, record_id: str) -> dict[str, str]:
    return {"pk": f"{_PREFIX[kind]}{record_id}", "sk": _META}


def record_prefix(kind: RecordKind) -> str:
    """The `by_fleet` sort-key prefix of a kind's records (a record's `gsi1sk` is its `pk`)."""
    return _PREFIX[kind]


@dataclass(frozen=True)
class ConnectorState:
    charge_point_id: str
    connector_id: int
    status: str
    error_code: str
    at: str
    info: str | None = None
    vendor_error_code: str | None = None

    def event(self) -> StatusEvent:
        return StatusEvent(
            int(self.connector_id),
            self.status,
            self.error_code,
            datetime.fromisoformat(self.at),
            self.info,
            self.vendor_error_code,
        )


@dataclass(frozen=True)
class ChargerState:
    charge_point_id: str
    last_heartbeat_at: str | None = None
    last_boot_at: str | None = None
    vendor: str | None = None
    model: str | None = None
    firmware_version: str | None = None
    # Any frame of the charger's: boots, heartbeats and statuses always, others at most once a
    # heartbeat interval per ingest container (see `CentralSystemBase.handle`).
    last_seen_at: str | None = None


@dataclass
class FleetInventory:
    """Everything of one fleet the registry knows, from one query of the `by_fleet` index."""

    sites: list[Site] = field(default_factory=list)
    chargers: list[Charger] = field(default_factory=list)
    charger_states: dict[str, ChargerState] = field(default_factory=dict)
    connectors: list[ConnectorState] = field(default_factory=list)
    vehicles: list[Vehicle] = field(default_factory=list)
    drivers: list[Driver] = field(default_factory=list)


class _TtlCache:
    """Registry records change rarely; a container keeps them for a minute to spare reads."""

    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._items: dict[str, tuple[float, Any]] = {}

    def get(self, key: str, load: Callable[[], Any]) -> Any:
        hit = self._items.get(key)
        now = self._clock()
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        value = load()
        self._items[key] = (now, value)
        return value

    def holds(self, key: str) -> bool:
        hit = self._items.get(key)
        return hit is not None and self._clock() - hit[0] < self._ttl

    def put(self, key: str, value: Any) -> None:
        self._items[key] = (self._clock(), value)

    def value(self, key: str) -> Any:
        """What was kept under `key` (None if nothing), however old: for a key just put."""
        hit = self._items.get(key)
        return hit[1] if hit else None

    def forget(self, key: str) -> None:
        self._items.pop(key, None)

    def forget_prefix(self, prefix: str) -> None:
        for key in [k for k in self._items if k.startswith(prefix)]:
            del self._items[key]


def _over_version_read(version: int) -> dict[str, Any]:
    """The condition of an optimistic write of `version`: over the version it was made from."""
    if version == 1:
        return {"ConditionExpression": "attribute_not_exists(pk)"}
    return {"ConditionExpression": "version = :read", "ExpressionAttributeValues": {":read": version - 1}}


def _site_stays(item: dict[str, Any], energy: dict[str, Any] | None) -> SiteStays:
    """A site's stays from their item and the energy item beside it (absent, or missing a stay
    that a Lambda of the previous release added: that stay's energy is unknown)."""
    stays = SiteStays.model_validate_json(item["document"])
    kwh = json.loads(energy["document"]) if energy else {}
    if not kwh:
        return stays
    known = [
        stay._replace(energy_kwh=Decimal(kwh[stay.session_id])) if stay.session_id in kwh else stay
        for stay in stays.stays
    ]
    return stays.model_copy(update={"stays": known})


def _live_key(key: dict[str, str]) -> str:
    return f"live:{key['pk']}#{key['sk']}"


def _record(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in _SYSTEM_FIELDS}


def _inventory(items: Iterable[dict[str, Any]]) -> FleetInventory:
    inventory = FleetInventory()
    for item in items:
        kind, record = item.get("kind"), _record(item)
        if kind == "site":
            inventory.sites.append(Site.model_validate(record))
        elif kind == "charger":
            inventory.chargers.append(
                Charger.model_validate({k: v for k, v in record.items() if k != "fleet_id"})
            )
        elif kind == "charger_state":
            state = ChargerState(**record)
            inventory.charger_states[state.charge_point_id] = state
        elif kind == "connector":
            inventory.connectors.append(ConnectorState(**record))
        elif kind == "vehicle":
            inventory.vehicles.append(Vehicle.model_validate(record))
        elif kind == "driver":
            inventory.drivers.append(Driver.model_validate(record))
    return inventory


def utc_key(at: datetime) -> str:
    """A time as stored in keys and compared in conditions: UTC, fixed width, so text order is
    time order whatever offset a charger reported in."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _condition_failed(exc: ClientError) -> bool:
    return error_code(exc) == "ConditionalCheckFailedException"


# How far back the status before a period is looked for: each outlet's last change before it
# is almost always among the charger's last few changes.
_LOOKBACK_PAGE = 25
_LOOKBACK_PAGES = 4


class RegistryTable:
    def __init__(self, table_name: str, *, table: Any = None, cache_seconds: float = 60.0) -> None:
        self._table = table if table is not None else dynamodb_table(table_name)
        self._cache = _TtlCache(cache_seconds)

    # --- reads ---------------------------------------------------------------------------------

    def _get(self, pk: str, sk: str = _META) -> dict[str, Any] | None:
        with aws_errors(f"read {pk}"):
            item = self._table.get_item(Key={"pk": pk, "sk": sk}).get("Item")
        return _record(item) if item else None

    def placement(self, charge_point_id: str) -> ChargerPlacement | None:
        def load() -> ChargerPlacement | None:
            charger = self._get(f"CHARGER#{charge_point_id}")
            if charger is None:
                return None
            record = Charger.model_validate({k: v for k, v in charger.items() if k != "fleet_id"})
            return ChargerPlacement(charger=record, site=self.site(record.site_id))

        placement: ChargerPlacement | None = self._cache.get(f"placement:{charge_point_id}", load)
        return placement

    def token(self, id_tag: str) -> TokenGrant:
        def load() -> TokenGrant:
            item = self._get(f"TOKEN#{id_tag}")
            if item is None:
                return TokenGrant(id_tag=id_tag, status="Invalid")
            return TokenGrant.model_validate(Token.model_validate(item).model_dump())

        grant: TokenGrant = self._cache.get(f"token:{id_tag}", load)
        return grant

    def site(self, site_id: str) -> Site:
        def load() -> Site:
            item = self._get(f"SITE#{site_id}")
            if item is None:
                raise SiteNotFound(site_id)
            return Site.model_validate(item)

        site: Site = self._cache.get(f"site:{site_id}", load)
        return site

    def operator(self) -> Operator:
        item = self._get("OPERATOR")
        if item is None:
            raise PartyNotFound("the operator (seller)")
        return Operator.model_validate(item)

    def fleet(self, fleet_id: str) -> Fleet:
        item = self._get(f"FLEET#{fleet_id}")
        if item is None:
            raise PartyNotFound(f"fleet {fleet_id!r}")
        return Fleet.model_validate(item)

    def fleet_ids(self) -> list[str]:
        """Every fleet (a short list: one item per customer company)."""
        ids: list[str] = []
        kwargs: dict[str, Any] = {
            "FilterExpression": "kind = :fleet AND sk = :meta",
            "ExpressionAttributeValues": {":fleet": "fleet", ":meta": _META},
            "ProjectionExpression": "pk",
        }
        while True:
            with aws_errors("list fleets"):
                page = self._table.scan(**kwargs)
            ids.extend(item["pk"].removeprefix("FLEET#") for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return sorted(ids)
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def fleet_inventory(self, fleet_id: str) -> FleetInventory:
        """Everything of the fleet: fine for a command or a small fleet, never for a hot path."""
        return _inventory(self._query_fleet(fleet_id))

    def vehicle(self, vehicle_id: str) -> Vehicle | None:
        item = self._get(f"VEHICLE#{vehicle_id}")
        return Vehicle.model_validate(item) if item else None

    def vehicles_page(
        self, fleet_id: str, limit: int, after: dict[str, str] | None = None
    ) -> tuple[list[Vehicle], dict[str, str] | None]:
        """Up to `limit` of the fleet's vehicles by id, and the key to go on from (None at the
        end). Other items under `VEHICLE#` (a vehicle's charging needs) are read past."""
        kwargs: dict[str, Any] = {
            "IndexName": BY_FLEET_INDEX,
            "KeyConditionExpression": Key("gsi1pk").eq(f"FLEET#{fleet_id}")
            & Key("gsi1sk").begins_with(VEHICLE_PREFIX),
            "Limit": limit,
        }
        if after is not None:
            kwargs["ExclusiveStartKey"] = after
        vehicles: list[Vehicle] = []
        while True:
            with aws_errors(f"list vehicles of {fleet_id}"):
                page = self._table.query(**kwargs)
            items = [i for i in page.get("Items", []) if i.get("kind") == "vehicle"]
            last_read = page.get("LastEvaluatedKey")
            for position, item in enumerate(items):
                vehicles.append(Vehicle.model_validate(_record(item)))
                if len(vehicles) == limit:
                    more = position < len(items) - 1 or last_read is not None
                    key = {name: str(item[name]) for name in ("pk", "sk", "gsi1pk", "gsi1sk")}
                    return vehicles, key if more else None
            if last_read is None:
                return vehicles, None
            kwargs["ExclusiveStartKey"] = last_read

    def connector_statuses(self, connectors: Iterable[tuple[str, int]]) -> dict[tuple[str, int], str]:
        """The last reported status of each (charger, connector) asked for, in batched reads."""
        wanted = sorted(set(connectors))
        statuses: dict[tuple[str, int], str] = {}
        for start in range(0, len(wanted), _BATCH_GET):
            keys = [
                {"pk": f"CHARGER#{cp}", "sk": f"CONNECTOR#{connector:03d}"}
                for cp, connector in wanted[start : start + _BATCH_GET]
            ]
            request: dict[str, Any] = {self._table.name: {"Keys": keys}}
            while request:
                with aws_errors("read connector states"):
                    result = self._table.meta.client.batch_get_item(RequestItems=request)
                for item in result.get("Responses", {}).get(self._table.name, []):
                    statuses[(item["charge_point_id"], int(item["connector_id"]))] = item["status"]
                request = result.get("UnprocessedKeys") or {}
        return statuses

    def site_time_zones(self, fleet_id: str) -> set[str]:
        """The IANA zones of the fleet's sites (from `fleet_sites`, cached)."""
        return {site.time_zone for site in self.fleet_sites(fleet_id)}

    def fleet_chargers(self, fleet_id: str) -> FleetInventory:
        """The fleet's chargers with their live state and connectors, and nothing else: the
        chargers' records from the per-container cache, and one query of the `by_fleet` index on
        the `LIVE#` range, which holds only the chargers' STATE and CONNECTOR items (the fleet's
        vehicles, drivers, tokens and the chargers' history are not read)."""
        inventory = _inventory(self._query_fleet(fleet_id, LIVE_PREFIX))
        inventory.chargers = list(self.charger_directory(fleet_id).values())
        return inventory

    def fleet_sites(self, fleet_id: str) -> list[Site]:
        """The fleet's sites: one query of the `SITE#` range, cached a minute per container."""

        def load() -> list[Site]:
            return _inventory(self._query_fleet(fleet_id, "SITE#")).sites

        sites: list[Site] = self._cache.get(f"sites:{fleet_id}", load)
        return sites

    def charger_directory(self, fleet_id: str) -> dict[str, Charger]:
        """The fleet's charger records by id, cached a minute per container like every record."""

        def load() -> dict[str, Charger]:
            return {c.id: c for c in _inventory(self._query_fleet(fleet_id, "CHARGER#")).chargers}

        directory: dict[str, Charger] = self._cache.get(f"chargers:{fleet_id}", load)
        return directory

    def vehicle_directory(self, fleet_id: str) -> dict[str, Vehicle]:
        """The fleet's vehicles by id. Cached like every registry record (a minute per container):
        a fleet of 5,000 vehicles is read once a minute, not on every status call."""

        def load() -> dict[str, Vehicle]:
            return {v.id: v for v in _inventory(self._query_fleet(fleet_id, "VEHICLE#")).vehicles}

        directory: dict[str, Vehicle] = self._cache.get(f"vehicles:{fleet_id}", load)
        return directory

    # --- a charger's health --------------------------------------------------------------------

    def charger_now(self, charge_point_id: str) -> tuple[ChargerState | None, list[ConnectorState]]:
        """The charger's STATE item and its connectors now (its history is not read)."""
        state = self._get(f"CHARGER#{charge_point_id}", "STATE")
        connectors = [
            ConnectorState(**_record(item))
            for item in self._query_partition(
                Key("pk").eq(f"CHARGER#{charge_point_id}") & Key("sk").begins_with("CONNECTOR#")
            )
        ]
        return (ChargerState(**state) if state else None), connectors

    def status_history(self, charge_point_id: str, start: datetime, end: datetime) -> list[StatusEvent]:
        """Every connector status change in [start, end), and before them the last change of
        each connector before `start` (looked for among the last 100 changes before it)."""
        pk = Key("pk").eq(f"CHARGER#{charge_point_id}")
        events = [
            _status_event(item)
            for item in self._query_partition(
                pk & Key("sk").between(f"STATUS#{utc_key(start)}", f"STATUS#{utc_key(end)}")
            )
            if item["at"] < utc_key(end)
        ]
        before: dict[int, StatusEvent] = {}
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": pk & Key("sk").between("STATUS#", f"STATUS#{utc_key(start)}"),
            "ScanIndexForward": False,
            "Limit": _LOOKBACK_PAGE,
        }
        for _ in range(_LOOKBACK_PAGES):
            with aws_errors(f"read the status history of {charge_point_id}"):
                page = self._table.query(**kwargs)
            for item in page.get("Items", []):
                if item["at"] < utc_key(start):
                    event = _status_event(item)
                    before.setdefault(event.connector_id, event)
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return [*before.values(), *events]

    def outages(self, charge_point_id: str, start: datetime, end: datetime) -> list[Outage]:
        """Outages overlapping [start, end). Keyed by their end, they never overlap one another, so
        reading stops at the first that ends after the period."""
        found: list[Outage] = []
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(f"CHARGER#{charge_point_id}")
            & Key("sk").between(f"OUTAGE#{utc_key(start)}", "OUTAGE#~"),
            "Limit": 50,
        }
        while True:
            with aws_errors(f"read the outages of {charge_point_id}"):
                page = self._table.query(**kwargs)
            for item in page.get("Items", []):
                outage = Outage(datetime.fromisoformat(item["start"]), datetime.fromisoformat(item["end"]))
                if outage.start < end:
                    found.append(outage)
                if outage.end >= end:
                    return found
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _query_partition(self, condition: Any) -> Iterable[dict[str, Any]]:
        kwargs: dict[str, Any] = {"KeyConditionExpression": condition}
        while True:
            with aws_errors("read a charger's items"):
                page = self._table.query(**kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _query_fleet(self, fleet_id: str, prefix: str | None = None) -> Iterable[dict[str, Any]]:
        condition = Key("gsi1pk").eq(f"FLEET#{fleet_id}")
        if prefix is not None:
            condition = condition & Key("gsi1sk").begins_with(prefix)
        kwargs: dict[str, Any] = {"IndexName": BY_FLEET_INDEX, "KeyConditionExpression": condition}
        while True:
            with aws_errors(f"query fleet {fleet_id}"):
                page = self._table.query(**kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # --- writes from the fleet API's admin routes ----------------------------------------------

    def record(self, kind: RecordKind, record_id: str) -> dict[str, Any] | None:
        """A stored record as written (with its `fleet_id`), read consistently and never from the
        cache: what an admin is about to change or was just shown."""
        with aws_errors(f"read {kind} {record_id}"):
            item = self._table.get_item(Key=record_key(kind, record_id), ConsistentRead=True).get("Item")
        return _record(item) if item else None

    def save(
        self, kind: RecordKind, record_id: str, fleet_id: str, fields: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Create or replace `fields` of one of a fleet's records, leaving every other attribute
        (the operator's tariffs) as it is. Returns the record as it was, None when it was created.
        An id another fleet holds is refused (`Conflict`) and that record is left untouched."""
        key = record_key(kind, record_id)
        values = {
            **fields,
            ("id_tag" if kind == "token" else "id"): record_id,
            "fleet_id": fleet_id,
            "kind": kind,
            "gsi1pk": f"FLEET#{fleet_id}",
            "gsi1sk": key["pk"],
        }
        names = {f"#a{i}": name for i, name in enumerate(values)}
        with aws_errors(f"save {kind} {record_id}"):
            try:
                result = self._table.update_item(
                    Key=key,
                    UpdateExpression="SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(values))),
                    ConditionExpression="attribute_not_exists(pk) OR #owner = :owner",
                    ExpressionAttributeNames={**names, "#owner": "fleet_id"},
                    ExpressionAttributeValues={
                        **{f":a{i}": value for i, value in enumerate(values.values())},
                        ":owner": fleet_id,
                    },
                    ReturnValues="ALL_OLD",
                )
            except ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
                # Ids are global (a charger id is its MQTT topic); whose it is stays unsaid.
                raise Conflict(f"{kind} id {record_id!r} is in use") from exc
        self._forget(kind, record_id)
        old = result.get("Attributes")
        return _record(old) if old else None

    def remove(self, kind: RecordKind, record_id: str, fleet_id: str) -> None:
        """Delete one of a fleet's records (and a charger's live state, a vehicle's needs); another
        fleet's record is `NotFound`, exactly like a missing one."""
        key = record_key(kind, record_id)
        with aws_errors(f"delete {kind} {record_id}"):
            try:
                self._table.delete_item(
                    Key=key,
                    ConditionExpression="#owner = :owner",
                    ExpressionAttributeNames={"#owner": "fleet_id"},
                    ExpressionAttributeValues={":owner": fleet_id},
                )
            except ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
                raise NotFound(f"no {kind} {record_id!r} in this fleet") from exc
            if kind in _WITH_CHILDREN:
                page = self._table.query(
                    KeyConditionExpression=Key("pk").eq(key["pk"]), ProjectionExpression="pk, sk"
                )
                with self._table.batch_writer() as batch:
                    for item in page.get("Items", []):
                        batch.delete_item(Key={"pk": item["pk"], "sk": item["sk"]})
        self._forget(kind, record_id)

    def fleet_records(
        self, fleet_id: str, kind: RecordKind, *, limit: int, after: dict[str, str] | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, str] | None]:
        """A page of a fleet's records of one kind, by id, and the key to continue after."""
        kwargs: dict[str, Any] = {
            "IndexName": BY_FLEET_INDEX,
            "KeyConditionExpression": Key("gsi1pk").eq(f"FLEET#{fleet_id}")
            & Key("gsi1sk").begins_with(_PREFIX[kind]),
            "FilterExpression": Attr("sk").eq(_META),
            "Limit": limit,
        }
        if after is not None:
            kwargs["ExclusiveStartKey"] = after
        with aws_errors(f"list {kind} of fleet {fleet_id}"):
            page = self._table.query(**kwargs)
        return [_record(item) for item in page.get("Items", [])], page.get("LastEvaluatedKey")

    def naming(self, fleet_id: str, kind: RecordKind, field_name: str, value: str) -> list[str]:
        """The ids of a fleet's `kind` records whose `field_name` is `value` (who refers to it)."""
        kwargs: dict[str, Any] = {
            "IndexName": BY_FLEET_INDEX,
            "KeyConditionExpression": Key("gsi1pk").eq(f"FLEET#{fleet_id}")
            & Key("gsi1sk").begins_with(_PREFIX[kind]),
            "FilterExpression": Attr("sk").eq(_META) & Attr(field_name).eq(value),
            "ProjectionExpression": "pk",
        }
        ids: list[str] = []
        while True:
            with aws_errors(f"find {kind} naming {value}"):
                page = self._table.query(**kwargs)
            ids.extend(item["pk"].removeprefix(_PREFIX[kind]) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return sorted(ids)
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def put_charging_needs(self, needs: ChargingNeeds) -> bool:
        """Store a vehicle's charging needs (replacing any before); True when it had none."""
        item = {
            "pk": f"VEHICLE#{needs.vehicle_id}",
            "sk": _NEEDS,
            "kind": "vehicle_charging_needs",
            "gsi1pk": f"FLEET#{needs.fleet_id}",
            "gsi1sk": f"VEHICLE#{needs.vehicle_id}#{_NEEDS}",
            **needs.model_dump(mode="json"),
        }
        with aws_errors(f"store charging needs of {needs.vehicle_id}"):
            result = self._table.put_item(Item=item, ReturnValues="ALL_OLD")
        self._cache.forget(f"live:VEHICLE#{needs.vehicle_id}#{_NEEDS}")
        return not result.get("Attributes")

    def charging_needs(self, vehicle_id: str) -> ChargingNeeds | None:
        """What the fleet asked for this vehicle's next charge, if anything."""
        item = self._get(f"VEHICLE#{vehicle_id}", _NEEDS)
        return ChargingNeeds.model_validate(item) if item else None

    def remove_charging_needs(self, vehicle_id: str, fleet_id: str) -> None:
        with aws_errors(f"delete charging needs of {vehicle_id}"):
            try:
                self._table.delete_item(
                    Key={"pk": f"VEHICLE#{vehicle_id}", "sk": _NEEDS},
                    ConditionExpression="#owner = :owner",
                    ExpressionAttributeNames={"#owner": "fleet_id"},
                    ExpressionAttributeValues={":owner": fleet_id},
                )
            except ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
                raise NotFound(f"vehicle {vehicle_id!r} has no charging needs in this fleet") from exc
        self._cache.forget(f"live:VEHICLE#{vehicle_id}#{_NEEDS}")

    def vehicle_profile(self, vehicle_id: str) -> VehicleProfile | None:
        """The whole profile, taper points included (for the profile step that updates it)."""
        keys = [{"pk": f"VEHICLE#{vehicle_id}", "sk": sk} for sk in (_PROFILE, _TAPER)]
        items = {i["sk"]: i for i in self._batch_get(keys, f"read the profile of vehicle {vehicle_id}")}
        if _PROFILE not in items:
            return None
        profile = VehicleProfile.model_validate_json(items[_PROFILE]["document"])
        if _TAPER in items:
            tapers = _TAPER_SESSIONS.validate_json(items[_TAPER]["document"])
            profile = profile.model_copy(update={"taper_sessions": tapers})
        return profile

    def put_vehicle_profile(self, profile: VehicleProfile) -> None:
        """Store the profile over the version it was made from (`version - 1`); a profile another
        writer changed meanwhile is a `Conflict` (read it again and retry). The taper points are
        an item of their own, written in the same transaction: only the profile step reads them,
        so the fleet's status reads the small item alone."""
        pk = f"VEHICLE#{profile.vehicle_id}"
        condition = _over_version_read(profile.version)
        summary = {
            "pk": pk,
            "sk": _PROFILE,
            "kind": "vehicle_profile",
            "fleet_id": profile.fleet_id,
            "version": profile.version,
            "document": profile.model_dump_json(exclude={"taper_sessions"}),
        }
        taper = {
            "pk": pk,
            "sk": _TAPER,
            "kind": "vehicle_taper_points",
            "fleet_id": profile.fleet_id,
            "document": _TAPER_SESSIONS.dump_json(profile.taper_sessions).decode(),
        }
        self._put_together(summary, taper, condition, f"the profile of vehicle {profile.vehicle_id}")
        self._cache.forget(f"live:VEHICLE#{profile.vehicle_id}#{_PROFILE}")

    def site_stays(self, site_id: str) -> SiteStays | None:
        keys = [{"pk": f"SITE#{site_id}", "sk": sk} for sk in (_STAYS, _STAY_ENERGY)]
        items = {
            i["sk"]: i for i in self._batch_get(keys, f"read the stays of site {site_id}", consistent=True)
        }
        return None if _STAYS not in items else _site_stays(items[_STAYS], items.get(_STAY_ENERGY))

    def put_site_stays(self, stays: SiteStays) -> None:
        """Store the stays over the version they were made from, as `put_vehicle_profile`: the
        stays as the previous release stored them, and their energy beside them."""
        document = stays.model_dump(mode="json")
        document["stays"] = [stay[:3] for stay in document["stays"]]
        energy = {s.session_id: str(s.energy_kwh) for s in stays.stays if s.energy_kwh is not None}
        pk = f"SITE#{stays.site_id}"
        item = {"pk": pk, "fleet_id": stays.fleet_id, "version": stays.version}
        self._put_together(
            {
                **item,
                "sk": _STAYS,
                "kind": "site_stays",
                "document": json.dumps(document, separators=(",", ":")),
            },
            {
                **item,
                "sk": _STAY_ENERGY,
                "kind": "site_stay_energy",
                "document": json.dumps(energy, separators=(",", ":")),
            },
            _over_version_read(stays.version),
            f"the stays of site {stays.site_id}",
        )
        for sk in (_STAYS, _STAY_ENERGY):
            self._cache.forget(f"live:{pk}#{sk}")

    def _put_together(
        self, locked: dict[str, Any], beside: dict[str, Any], condition: dict[str, Any], what: str
    ) -> None:
        """Two items in one transaction: `locked` under `condition` (an optimistic version lock),
        `beside` with it; a lock another writer moved meanwhile is a `Conflict`."""
        items = [
            {"Put": {"TableName": self._table.name, "Item": locked, **condition}},
            {"Put": {"TableName": self._table.name, "Item": beside}},
        ]
        with aws_errors(f"store {what}"):
            try:
                self._table.meta.client.transact_write_items(TransactItems=items)
            except ClientError as exc:
                if error_code(exc) not in ("TransactionCanceledException", "TransactionConflictException"):
                    raise
                raise Conflict(f"{what} changed meanwhile") from exc

    def live_context(
        self,
        vehicle_ids: Iterable[str],
        evses: Iterable[tuple[str, int]],
        site_ids: Iterable[str] = (),
        *,
        stay_energy: bool = False,
    ) -> LiveContext:
        """What the estimates of active sessions need beside the sessions, in batched reads (never
        one request per vehicle): each vehicle's profile (without its taper points) and charging
        needs, and what each EV told its charger (2.0.1 NotifyEVChargingNeeds). Kept a minute per
        container like every registry record, absent ones too (a read of a missing item costs as
        much as of a small one), so a fleet app polling the status does not re-read them; and the
        recent stays of each site, for the departure estimate's site history, with the energy each
        took when `stay_energy` (the depot planner's arrival reserve needs it; the fleet's status
        does not read that item)."""
        vehicles, chargers = sorted(set(vehicle_ids)), sorted(set(evses))
        keys = [
            *({"pk": f"VEHICLE#{v}", "sk": sk} for v in vehicles for sk in (_PROFILE, _NEEDS)),
            *({"pk": f"CHARGER#{cp}", "sk": f"NEEDS#{evse:03d}"} for cp, evse in chargers),
            *(
                {"pk": f"SITE#{s}", "sk": sk}
                for s in sorted(set(site_ids))
                for sk in ((_STAYS, _STAY_ENERGY) if stay_energy else (_STAYS,))
            ),
        ]
        missing = [k for k in keys if not self._cache.holds(_live_key(k))]
        read = {_live_key(i): i for i in self._batch_get(missing, "read vehicle profiles and charging needs")}
        for key in missing:
            self._cache.put(_live_key(key), read.get(_live_key(key)))
        context = LiveContext()
        for key in keys:
            item = self._cache.value(_live_key(key))
            kind = item.get("kind") if item else None
            if kind == "vehicle_profile":
                profile = VehicleProfile.model_validate_json(item["document"])
                context.profiles[profile.vehicle_id] = profile
            elif kind == "vehicle_charging_needs":
                needs = ChargingNeeds.model_validate(_record(item))
                context.needs[needs.vehicle_id] = needs
            elif kind == "site_stays":
                energy = (
                    self._cache.value(_live_key({"pk": key["pk"], "sk": _STAY_ENERGY}))
                    if stay_energy
                    else None
                )
                stays = _site_stays(item, energy)
                context.site_stays[stays.site_id] = stays
            elif kind == "charging_needs":
                context.ev_needs[(item["charge_point_id"], int(item["evse_id"]))] = EvChargingNeeds(
                    needs=item["needs"], at=datetime.fromisoformat(item["at"])
                )
        return context

    def _batch_get(
        self, keys: list[dict[str, str]], doing: str, *, consistent: bool = False
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for start in range(0, len(keys), _BATCH_GET):
            request: dict[str, Any] = {
                self._table.name: {"Keys": keys[start : start + _BATCH_GET], "ConsistentRead": consistent}
            }
            while request:
                with aws_errors(doing):
                    result = self._table.meta.client.batch_get_item(RequestItems=request)
                items.extend(result.get("Responses", {}).get(self._table.name, []))
                request = result.get("UnprocessedKeys") or {}
        return items

    def _forget(self, kind: RecordKind, record_id: str) -> None:
        """Drop what this container cached of a changed record: a placement carries its site."""
        if kind == "site":
            self._cache.forget(f"site:{record_id}")
            self._cache.forget_prefix("placement:")
            self._cache.forget_prefix("sites:")
        elif kind == "charger":
            self._cache.forget(f"placement:{record_id}")
            self._cache.forget_prefix("chargers:")
        elif kind == "token":
            self._cache.forget(f"token:{record_id}")

    # --- writes from chargers ------------------------------------------------------------------

    def next_transaction_id(self) -> int:
        with aws_errors("allocate transaction id"):
            result = self._table.update_item(
                Key={"pk": "COUNTER", "sk": "transaction_id"},
                UpdateExpression="ADD #v :one",
                ExpressionAttributeNames={"#v": "value"},
                ExpressionAttributeValues={":one": 1},
                ReturnValues="UPDATED_NEW",
            )
        return int(result["Attributes"]["value"])

    def _update_state(
        self, charge_point_id: str, fleet_id: str, at: datetime, sets: str, values: dict[str, Any]
    ) -> datetime | None:
        """One write to the charger's STATE item: `sets`, and `last_seen_at` moved forward to `at`.
        Returns the `last_seen_at` it replaced (None the first time, or when a newer frame was
        recorded first: then only `sets` are written, in a second request)."""
        base = "SET gsi1pk = :g, gsi1sk = :s, kind = :k, charge_point_id = :cp"
        values = {
            **values,
            ":g": f"FLEET#{fleet_id}",
            ":s": f"{LIVE_PREFIX}{charge_point_id}#STATE",
            ":k": "charger_state",
            ":cp": charge_point_id,
        }
        key = {"pk": f"CHARGER#{charge_point_id}", "sk": "STATE"}
        with aws_errors(f"record a frame of {charge_point_id}"):
            try:
                result = self._table.update_item(
                    Key=key,
                    UpdateExpression=f"{base}, last_seen_at = :seen{sets}",
                    ConditionExpression="attribute_not_exists(last_seen_at) OR last_seen_at <= :seen",
                    ExpressionAttributeValues={**values, ":seen": utc_key(at)},
                    ReturnValues="UPDATED_OLD",
                )
            except ClientError as exc:
                if not _condition_failed(exc):
                    raise
                if sets:
                    self._table.update_item(
                        Key=key, UpdateExpression=f"{base}{sets}", ExpressionAttributeValues=values
                    )
                return None
        previous = result.get("Attributes", {}).get("last_seen_at")
        return datetime.fromisoformat(previous) if previous else None

    def record_boot(
        self, charge_point_id: str, fleet_id: str, details: dict[str, Any], at: datetime
    ) -> datetime | None:
        return self._update_state(
            charge_point_id,
            fleet_id,
            at,
            ", last_boot_at = :at, vendor = :vendor, model = :model, firmware_version = :fw, "
            "last_heartbeat_at = if_not_exists(last_heartbeat_at, :null)",
            {
                ":at": at.isoformat(),
                ":vendor": details.get("chargePointVendor"),
                ":model": details.get("chargePointModel"),
                ":fw": details.get("firmwareVersion"),
                ":null": None,
            },
        )

    def record_heartbeat(self, charge_point_id: str, fleet_id: str, at: datetime) -> datetime | None:
        return self._update_state(
            charge_point_id, fleet_id, at, ", last_heartbeat_at = :at", {":at": at.isoformat()}
        )

    def record_seen(self, charge_point_id: str, fleet_id: str, at: datetime) -> datetime | None:
        return self._update_state(charge_point_id, fleet_id, at, "", {})

    def record_outage(self, charge_point_id: str, outage: Outage) -> None:
        """Keyed by its end: the frame that ended it. The same outage twice is the same item."""
        with aws_errors(f"record an outage of {charge_point_id}"):
            self._table.put_item(
                Item={
                    "pk": f"CHARGER#{charge_point_id}",
                    "sk": f"OUTAGE#{utc_key(outage.end)}",
                    "kind": "outage",
                    "start": utc_key(outage.start),
                    "end": utc_key(outage.end),
                }
            )

    def record_connector_status(self, report: ConnectorStatusReport, fleet_id: str) -> None:
        sort = f"CONNECTOR#{report.connector_id:03d}"
        item = {
            "pk": f"CHARGER#{report.charge_point_id}",
            "sk": sort,
            "gsi1pk": f"FLEET#{fleet_id}",
            "gsi1sk": f"{LIVE_PREFIX}{report.charge_point_id}#{sort}",
            "kind": "connector",
            "charge_point_id": report.charge_point_id,
            "connector_id": report.connector_id,
            "status": report.status,
            "error_code": report.error_code,
            "at": utc_key(report.at),
            "info": report.info,
            "vendor_error_code": report.vendor_error_code,
        }
        with aws_errors(f"record status of {report.charge_point_id}/{report.connector_id}"):
            try:
                # A status older than the stored one (a replayed or delayed frame) does not change
                # the connector's state now, but it is history: it is kept below.
                old = self._table.put_item(
                    Item=item,
                    ConditionExpression="attribute_not_exists(#at) OR #at <= :at",
                    ExpressionAttributeNames={"#at": "at"},
                    ExpressionAttributeValues={":at": item["at"]},
                    ReturnValues="ALL_OLD",
                ).get("Attributes")
                changed = old is None or (old.get("status"), old.get("error_code")) != (
                    report.status,
                    report.error_code,
                )
            except ClientError as exc:
                if not _condition_failed(exc):
                    raise
                changed = True
            if changed:
                # Keyed by the charger's time and connector: a repeated frame rewrites the same item.
                self._table.put_item(
                    Item={
                        "pk": item["pk"],
                        "sk": f"STATUS#{item['at']}#{report.connector_id:03d}",
                        "kind": "connector_status",
                        **{k: item[k] for k in ("connector_id", "status", "error_code", "at")},
                        "info": report.info,
                        "vendor_error_code": report.vendor_error_code,
                    }
                )

    def record_charging_needs(
        self, charge_point_id: str, evse_id: int, needs: dict[str, Any], at: datetime
    ) -> None:
        """What the EV asked for (2.0.1 NotifyEVChargingNeeds): departure time, energy; kept for the fleet."""
        with aws_errors(f"record charging needs of {charge_point_id}/{evse_id}"):
            self._table.put_item(
                Item={
                    "pk": f"CHARGER#{charge_point_id}",
                    "sk": f"NEEDS#{evse_id:03d}",
                    "kind": "charging_needs",
                    "charge_point_id": charge_point_id,
                    "evse_id": evse_id,
                    "needs": json.loads(json.dumps(needs), parse_float=Decimal),
                    "at": at.isoformat(),
                }
            )

    # --- tariffs -------------------------------------------------------------------------------

    def put_tariff(self, tariff: Tariff) -> bool:
        """Store a tariff version; False when exactly this version was stored already. A different
        tariff under an existing id and `last_updated` is refused: a change needs a new version."""
        if tariff.last_updated is None:
            raise TariffError("last_updated", "required to keep the tariff's versions apart")
        document = to_json(tariff, indent=0)
        item = {
            "pk": f"TARIFF#{tariff.id}",
            "sk": f"V#{tariff.last_updated.isoformat()}",
            "kind": "tariff",
            "document": document,
        }
        with aws_errors(f"store tariff {tariff.id}"):
            try:
                self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
            except ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
                stored = self._get(item["pk"], item["sk"]) or {}
                if stored.get("document") == document:
                    return False
                raise TariffError(
                    "last_updated",
                    f"tariff {tariff.id!r} version {tariff.last_updated.isoformat()} is stored with other "
                    "content: a changed tariff needs a new last_updated",
                ) from exc
        self._cache.forget(f"tariff:{tariff.id}")
        return True

    def tariff_versions(self, tariff_id: str) -> list[Tariff]:
        """Every stored version of a tariff, oldest first."""

        def load() -> list[Tariff]:
            with aws_errors(f"read tariff {tariff_id}"):
                page = self._table.query(KeyConditionExpression=Key("pk").eq(f"TARIFF#{tariff_id}"))
            return [parse_tariff(item["document"]) for item in page.get("Items", [])]

        versions: list[Tariff] = self._cache.get(f"tariff:{tariff_id}", load)
        return versions

    def tariff_ids(self) -> list[str]:
        """Every stored tariff (a short list: a scan is fine for an operator's command)."""
        ids: set[str] = set()
        kwargs: dict[str, Any] = {"FilterExpression": Attr("kind").eq("tariff"), "ProjectionExpression": "pk"}
        while True:
            with aws_errors("list tariffs"):
                page = self._table.scan(**kwargs)
            ids.update(item["pk"].removeprefix("TARIFF#") for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return sorted(ids)
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # --- the import ----------------------------------------------------------------------------

    def import_document(self, document: RegistryDocument) -> dict[str, int]:
        """Write every record of the document (an upsert: records not in the file stay)."""
        return self.import_records(RegistryRecords.model_validate(dict(document)))

    def import_records(
        self, document: RegistryRecords, site_fleets: dict[str, str] | None = None
    ) -> dict[str, int]:
        """Write every record (an upsert). A charger is filed under its site's fleet: the site's in
        `document`, else `site_fleets` (what the registry holds)."""
        site_fleet = {**(site_fleets or {}), **{site.id: site.fleet_id for site in document.sites}}
        items: list[dict[str, Any]] = []
        if document.operator is not None:
            items.append(_item("OPERATOR", None, None, "operator", document.operator))
        items += [_item(f"FLEET#{f.id}", f.id, "FLEET", "fleet", f) for f in document.fleets]
        items += [_item(f"SITE#{s.id}", s.fleet_id, f"SITE#{s.id}", "site", s) for s in document.sites]
        items += [
            _item(
                f"CHARGER#{c.id}",
                site_fleet[c.site_id],
                f"CHARGER#{c.id}",
                "charger",
                c,
                fleet_id=site_fleet[c.site_id],
            )
            for c in document.chargers
        ]
        items += [
            _item(f"VEHICLE#{v.id}", v.fleet_id, f"VEHICLE#{v.id}", "vehicle", v) for v in document.vehicles
        ]
        items += [
            _item(f"DRIVER#{d.id}", d.fleet_id, f"DRIVER#{d.id}", "driver", d) for d in document.drivers
        ]
        items += [
            _item(f"TOKEN#{t.id_tag}", t.fleet_id, f"TOKEN#{t.id_tag}", "token", t) for t in document.tokens
        ]
        with aws_errors("import registry"), self._table.batch_writer() as batch:
            for item in items:
                batch.put_item(Item=item)
        return {
            "fleets": len(document.fleets),
            "sites": len(document.sites),
            "chargers": len(document.chargers),
            "vehicles": len(document.vehicles),
            "drivers": len(document.drivers),
            "tokens": len(document.tokens),
        }


def _status_event(item: dict[str, Any]) -> StatusEvent:
    return StatusEvent(
        connector_id=int(item["connector_id"]),
        status=item["status"],
        error_code=item["error_code"],
        at=datetime.fromisoformat(item["at"]),
        info=item.get("info"),
        vendor_error_code=item.get("vendor_error_code"),
    )


def _item(
    pk: str, owner: str | None, gsi1sk: str | None, kind: str, record: Any, **extra: Any
) -> dict[str, Any]:
    item: dict[str, Any] = {"pk": pk, "sk": _META, "kind": kind, **record.model_dump(mode="json"), **extra}
    if owner is not None and gsi1sk is not None:
        item["gsi1pk"] = f"FLEET#{owner}"
        item["gsi1sk"] = gsi1sk
    return item

"""The registry table: operator, fleets, sites, chargers (with live connector state), vehicles,
drivers, tokens, and the transaction-id counter.

Item layout (partition `pk`, sort `sk`; GSI `by_fleet` on `gsi1pk`/`gsi1sk` lists a fleet's
things in one query):

| pk                 | sk               | gsi1pk       | gsi1sk                          |
|--------------------|------------------|--------------|---------------------------------|
| OPERATOR           | META             |              |                                 |
| FLEET#{id}         | META             | FLEET#{id}   | FLEET                           |
| SITE#{id}          | META             | FLEET#{f}    | SITE#{id}                       |
| CHARGER#{id}       | META             | FLEET#{f}    | CHARGER#{id}                    |
| CHARGER#{id}       | STATE            | FLEET#{f}    | CHARGER#{id}#STATE              |
| CHARGER#{id}       | CONNECTOR#{nnn}  | FLEET#{f}    | CHARGER#{id}#CONNECTOR#{nnn}    |
| VEHICLE#{id}       | META             | FLEET#{f}    | VEHICLE#{id}                    |
| DRIVER#{id}        | META             | FLEET#{f}    | DRIVER#{id}                     |
| TOKEN#{idTag}      | META             | FLEET#{f}    | TOKEN#{idTag}                   |
| COUNTER            | transaction_id   |              |                                 |
| TARIFF#{id}        | V#{last_updated} |              |                                 |

A tariff is stored once per version (its OCPI `last_updated`), as the exact JSON it was imported
as; versions are never overwritten, so a session can always be priced with the version it
started under.

Each charger's live state is its own items, written only by that charger's frames: no item is
written by every message of a fleet. Records are stored as their model's JSON form, so Decimals
keep their exact text.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from shared.adapters.aws import aws_errors, dynamodb_table, error_code
from shared.domain.errors import PartyNotFound, SiteNotFound
from shared.domain.ports import ConnectorStatusReport
from shared.models.ocpi import Tariff, TariffError, parse_tariff, to_json
from shared.models.registry import (
    Charger,
    ChargerPlacement,
    Driver,
    Fleet,
    Operator,
    RegistryDocument,
    Site,
    Token,
    TokenGrant,
    Vehicle,
)

BY_FLEET_INDEX = "by_fleet"
VEHICLE_PREFIX = "VEHICLE#"
# BatchGetItem reads at most 100 keys a request.
_BATCH_GET = 100
_META = "META"
_SYSTEM_FIELDS = {"pk", "sk", "gsi1pk", "gsi1sk", "kind"}


@dataclass(frozen=True)
class ConnectorState:
    charge_point_id: str
    connector_id: int
    status: str
    error_code: str
    at: str
    info: str | None = None


@dataclass(frozen=True)
class ChargerState:
    charge_point_id: str
    last_heartbeat_at: str | None
    last_boot_at: str | None
    vendor: str | None
    model: str | None
    firmware_version: str | None


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

    def forget(self, key: str) -> None:
        self._items.pop(key, None)


def _record(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in _SYSTEM_FIELDS}


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
        inventory = FleetInventory()
        for item in self._query_fleet(fleet_id):
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
        """The IANA zones of the fleet's sites (one query of the fleet's site items)."""

        def load() -> set[str]:
            with aws_errors(f"read the sites of {fleet_id}"):
                page = self._table.query(
                    IndexName=BY_FLEET_INDEX,
                    KeyConditionExpression=Key("gsi1pk").eq(f"FLEET#{fleet_id}")
                    & Key("gsi1sk").begins_with("SITE#"),
                    ProjectionExpression="time_zone",
                )
            return {str(i["time_zone"]) for i in page.get("Items", []) if i.get("time_zone")}

        zones: set[str] = self._cache.get(f"zones:{fleet_id}", load)
        return zones

    def _query_fleet(self, fleet_id: str) -> Iterable[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "IndexName": BY_FLEET_INDEX,
            "KeyConditionExpression": Key("gsi1pk").eq(f"FLEET#{fleet_id}"),
        }
        while True:
            with aws_errors(f"query fleet {fleet_id}"):
                page = self._table.query(**kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

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

    def record_boot(self, charge_point_id: str, fleet_id: str, details: dict[str, Any], at: datetime) -> None:
        with aws_errors(f"record boot of {charge_point_id}"):
            self._table.update_item(
                Key={"pk": f"CHARGER#{charge_point_id}", "sk": "STATE"},
                UpdateExpression=(
                    "SET gsi1pk = :g, gsi1sk = :s, kind = :k, charge_point_id = :cp, last_boot_at = :at, "
                    "vendor = :vendor, model = :model, firmware_version = :fw, "
                    "last_heartbeat_at = if_not_exists(last_heartbeat_at, :null)"
                ),
                ExpressionAttributeValues={
                    ":g": f"FLEET#{fleet_id}",
                    ":s": f"CHARGER#{charge_point_id}#STATE",
                    ":k": "charger_state",
                    ":cp": charge_point_id,
                    ":at": at.isoformat(),
                    ":vendor": details.get("chargePointVendor"),
                    ":model": details.get("chargePointModel"),
                    ":fw": details.get("firmwareVersion"),
                    ":null": None,
                },
            )

    def record_heartbeat(self, charge_point_id: str, at: datetime) -> None:
        with aws_errors(f"record heartbeat of {charge_point_id}"):
            self._table.update_item(
                Key={"pk": f"CHARGER#{charge_point_id}", "sk": "STATE"},
                UpdateExpression="SET last_heartbeat_at = :at",
                ExpressionAttributeValues={":at": at.isoformat()},
            )

    def record_connector_status(self, report: ConnectorStatusReport, fleet_id: str) -> None:
        sort = f"CONNECTOR#{report.connector_id:03d}"
        item = {
            "pk": f"CHARGER#{report.charge_point_id}",
            "sk": sort,
            "gsi1pk": f"FLEET#{fleet_id}",
            "gsi1sk": f"CHARGER#{report.charge_point_id}#{sort}",
            "kind": "connector",
            "charge_point_id": report.charge_point_id,
            "connector_id": report.connector_id,
            "status": report.status,
            "error_code": report.error_code,
            "at": report.at.isoformat(),
            "info": report.info,
        }
        with aws_errors(f"record status of {report.charge_point_id}/{report.connector_id}"):
            try:
                # A status older than the stored one (a replayed or delayed frame) changes nothing.
                self._table.put_item(
                    Item=item,
                    ConditionExpression="attribute_not_exists(#at) OR #at <= :at",
                    ExpressionAttributeNames={"#at": "at"},
                    ExpressionAttributeValues={":at": item["at"]},
                )
            except ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise

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
        site_fleet = {site.id: site.fleet_id for site in document.sites}
        items: list[dict[str, Any]] = [_item("OPERATOR", None, None, "operator", document.operator)]
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


def _item(
    pk: str, owner: str | None, gsi1sk: str | None, kind: str, record: Any, **extra: Any
) -> dict[str, Any]:
    item: dict[str, Any] = {"pk": pk, "sk": _META, "kind": kind, **record.model_dump(mode="json"), **extra}
    if owner is not None and gsi1sk is not None:
        item["gsi1pk"] = f"FLEET#{owner}"
        item["gsi1sk"] = gsi1sk
    return item

"""Depot schedules and the profile commands sent for them, in the registry table.

| pk              | sk                    | gsi1pk      | gsi1sk              | what                     |
|-----------------|-----------------------|-------------|---------------------|--------------------------|
| SITE#{id}       | SCHEDULE              | SCHEDULES   | {fleet}#{site}      | the site's plan, versioned |
| CHARGER#{id}    | COMMAND#{messageId}   |             |                     | a SetChargingProfile sent, until answered (TTL) |

The schedules share one `by_fleet` partition (`SCHEDULES`): the minute sweep reads every
scheduled site in one query and a fleet's read is that query with its fleet's prefix. A plan is
written only over the version it was computed from, so two recomputes of one site never overwrite
each other. The registry table sits beside the site and charger records these belong to; this
adapter is apart from `RegistryTable` only because that one is long enough already.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from shared.adapters.aws import aws_errors, dynamodb_table, error_code
from shared.adapters.registry_table import BY_FLEET_INDEX
from shared.domain.errors import ScheduleConflict
from shared.models.scheduling import PendingCommand, StoredSchedule

SCHEDULE_SK = "SCHEDULE"
SCHEDULES_PARTITION = "SCHEDULES"
SCHEDULE_KIND = "site_schedule"
COMMAND_PREFIX = "COMMAND#"
COMMAND_KIND = "charging_profile_command"
# A command nobody answered is of no use after a day; the table's TTL removes it.
COMMAND_RETENTION = timedelta(days=1)


class SiteSchedules:
    def __init__(self, table_name: str, *, table: Any = None) -> None:
        self._table = table if table is not None else dynamodb_table(table_name)

    def get(self, site_id: str) -> StoredSchedule | None:
        with aws_errors(f"read the schedule of {site_id}"):
            item = self._table.get_item(
                Key={"pk": f"SITE#{site_id}", "sk": SCHEDULE_SK}, ConsistentRead=True
            ).get("Item")
        return StoredSchedule.model_validate_json(item["body"]) if item else None

    def put(self, schedule: StoredSchedule) -> None:
        """Store `schedule` (version n) only over version n - 1 (or nothing, for version 1)."""
        condition = "attribute_not_exists(pk)" if schedule.version == 1 else "version = :previous"
        values = {} if schedule.version == 1 else {":previous": schedule.version - 1}
        item = {
            "pk": f"SITE#{schedule.site_id}",
            "sk": SCHEDULE_SK,
            "kind": SCHEDULE_KIND,
            "gsi1pk": SCHEDULES_PARTITION,
            "gsi1sk": f"{schedule.fleet_id}#{schedule.site_id}",
            "site_id": schedule.site_id,
            "fleet_id": schedule.fleet_id,
            "version": schedule.version,
            "body": schedule.model_dump_json(),
        }
        with aws_errors(f"store the schedule of {schedule.site_id}"):
            try:
                self._table.put_item(
                    Item=item,
                    ConditionExpression=condition,
                    **({"ExpressionAttributeValues": values} if values else {}),
                )
            except ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
                raise ScheduleConflict(
                    f"the schedule of {schedule.site_id} changed while version {schedule.version} was computed"
                ) from exc

    def for_fleet(self, fleet_id: str) -> list[StoredSchedule]:
        return self._query(Key("gsi1pk").eq(SCHEDULES_PARTITION) & Key("gsi1sk").begins_with(f"{fleet_id}#"))

    def every(self) -> list[StoredSchedule]:
        return self._query(Key("gsi1pk").eq(SCHEDULES_PARTITION))

    def _query(self, condition: Any) -> list[StoredSchedule]:
        kwargs: dict[str, Any] = {"IndexName": BY_FLEET_INDEX, "KeyConditionExpression": condition}
        schedules: list[StoredSchedule] = []
        while True:
            with aws_errors("list schedules"):
                page = self._table.query(**kwargs)
            schedules.extend(StoredSchedule.model_validate_json(i["body"]) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return schedules
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # --- pending commands ----------------------------------------------------------------------

    def record_command(self, command: PendingCommand) -> None:
        item = {
            "pk": f"CHARGER#{command.charge_point_id}",
            "sk": f"{COMMAND_PREFIX}{command.message_id}",
            "kind": COMMAND_KIND,
            **command.model_dump(mode="json", exclude_none=True),
            "expires_at": int((command.sent_at + COMMAND_RETENTION).timestamp()),
        }
        with aws_errors(f"record command {command.message_id}"):
            self._table.put_item(Item=item)

    def command(self, charge_point_id: str, message_id: str) -> PendingCommand | None:
        with aws_errors(f"read command {message_id}"):
            item = self._table.get_item(
                Key={"pk": f"CHARGER#{charge_point_id}", "sk": f"{COMMAND_PREFIX}{message_id}"},
                ConsistentRead=True,
            ).get("Item")
        return command_of(item) if item else None

    def ev_charging_needs(self, charge_point_id: str, evse_id: int, since: datetime) -> EvChargingNeeds:
        """The EV's needs on this EVSE, if it sent them after `since` (the session's start): the
        item stays after the car left, and the next car's session must not inherit it."""
        with aws_errors(f"read the EV charging needs of {charge_point_id}/{evse_id}"):
            item = self._table.get_item(
                Key={"pk": f"CHARGER#{charge_point_id}", "sk": f"NEEDS#{evse_id:03d}"}
            ).get("Item")
        if not item or datetime.fromisoformat(str(item["at"])) < since:
            return EvChargingNeeds()
        needs = item.get("needs") or {}
        parameters = needs.get("acChargingParameters") or needs.get("dcChargingParameters") or {}
        energy_wh = parameters.get("energyAmount")
        departure = needs.get("departureTime")
        return EvChargingNeeds(
            energy_kwh=None if energy_wh is None else Decimal(str(energy_wh)) / 1000,
            departure_at=None
            if departure is None
            else datetime.fromisoformat(str(departure).replace("Z", "+00:00")),
        )

    def answer(
        self, charge_point_id: str, message_id: str, status: str, reason: str | None, at: datetime
    ) -> PendingCommand | None:
        """Record the charger's answer to a pending command; None when no such command is pending
        (not ours, expired, or answered already)."""
        with aws_errors(f"answer command {message_id}"):
            try:
                result = self._table.update_item(
                    Key={"pk": f"CHARGER#{charge_point_id}", "sk": f"{COMMAND_PREFIX}{message_id}"},
                    UpdateExpression="SET #status = :status, answered_at = :at, reason = :reason",
                    ConditionExpression="attribute_exists(pk) AND #status = :pending",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={
                        ":status": status,
                        ":at": at.isoformat(),
                        ":reason": reason,
                        ":pending": "pending",
                    },
                    ReturnValues="ALL_NEW",
                )
            except ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
                return None
        return command_of(result["Attributes"])


@dataclass(frozen=True)
class EvChargingNeeds:
    """What the EV itself asked for (OCPP 2.0.1 NotifyEVChargingNeeds) in this session."""

    energy_kwh: Decimal | None = None
    departure_at: datetime | None = None


def command_of(item: dict[str, Any]) -> PendingCommand:
    fields = {k: v for k, v in item.items() if k in PendingCommand.model_fields}
    return PendingCommand.model_validate(json.loads(json.dumps(fields, default=str)))

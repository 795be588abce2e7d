"""The one place that names Laddvakt's resources, MQTT topics and the IoT rule.

`infra/` builds the CloudFormation template from these names and the local stack (`laddvakt up`)
reads them back from that template, so the cloud and the laptop can never drift apart. Nothing
here imports AWS libraries: it is plain data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

STACK_NAME = "Laddvakt"

# OCPP-J over MQTT, following AWS's OCPP gateway guidance: a charger publishes frames on
# `{chargePointId}/in` and receives replies and commands on `{chargePointId}/out`.
INBOUND_TOPIC_FILTER = "+/in"
OUTBOUND_QOS = 1

# `encode(*, 'base64')` carries the payload byte for byte, so a frame that is not JSON still
# reaches ingest (and gets a CallError and a quarantine record) instead of failing inside the
# rule engine, where an operator would never see it. `timestamp()` is the broker's receive time
# in epoch milliseconds.
INGEST_RULE_SQL = (
    "SELECT encode(*, 'base64') AS payload, topic(1) AS chargePointId, "
    "timestamp() AS receivedAt, 'in' AS direction FROM '+/in'"
)
INGEST_RULE_SQL_VERSION = "2016-03-23"

# The raw ledger archives both directions: every frame in (the ingest rule's second action) and
# every reply and command out (this rule), so a replay knows the transaction ids Laddvakt chose.
LEDGER_OUT_RULE_SQL = (
    "SELECT encode(*, 'base64') AS payload, topic(1) AS chargePointId, "
    "timestamp() AS receivedAt, 'out' AS direction FROM '+/out'"
)
# Firehose partitions the archive by day (UTC) and charger: `frames/date=…/charger=…/`.
LEDGER_PREFIX = "frames/date=!{partitionKeyFromQuery:date}/charger=!{partitionKeyFromQuery:chargePointId}/"
LEDGER_ERROR_PREFIX = "errors/!{firehose:error-output-type}/"
LEDGER_PARTITION_QUERY = (
    '{date: (.receivedAt / 1000 | floor | strftime("%Y-%m-%d")), chargePointId: .chargePointId}'
)


def ledger_partition(record: dict[str, object]) -> dict[str, str]:
    """What LEDGER_PARTITION_QUERY computes, for the local stack's Firehose (which has no jq)."""
    received = datetime.fromtimestamp(int(str(record["receivedAt"])) / 1000, tz=UTC)
    return {"date": received.strftime("%Y-%m-%d"), "chargePointId": str(record["chargePointId"])}


def inbound_topic(charge_point_id: str) -> str:
    return f"{charge_point_id}/in"


def outbound_topic(charge_point_id: str) -> str:
    return f"{charge_point_id}/out"


@dataclass(frozen=True)
class FunctionSpec:
    """A Lambda function: its physical name suffix and its Python entry point."""

    key: str
    handler: str
    description: str
    timeout_seconds: int = 30
    memory_mb: int = 512


FUNCTIONS: dict[str, FunctionSpec] = {
    spec.key: spec
    for spec in (
        FunctionSpec(
            "ingest",
            "functions.ingest.handler.lambda_handler",
            "OCPP-J frames from the ingest queue: records sessions and answers chargers",
            timeout_seconds=60,
        ),
        FunctionSpec(
            "finalize-session",
            "functions.finalize_session.handler.lambda_handler",
            "Billing step 1: close the session and fix its energy",
        ),
        FunctionSpec(
            "price-session",
            "functions.price_session.handler.lambda_handler",
            "Billing step 2: price the closed session with the site's tariff",
        ),
        FunctionSpec(
            "write-invoice",
            "functions.write_invoice.handler.lambda_handler",
            "Billing step 3: write the invoice JSON to the invoice bucket",
        ),
        FunctionSpec(
            "mark-invoiced",
            "functions.mark_invoiced.handler.lambda_handler",
            "Billing step 4: mark the session invoiced",
        ),
        FunctionSpec(
            "record-rollups",
            "functions.record_rollups.handler.lambda_handler",
            "Billing step 5: add the session to its fleet's daily analytics rollups",
        ),
        FunctionSpec(
            "record-vehicle-profile",
            "functions.record_vehicle_profile.handler.lambda_handler",
            "Billing step 6: add the session to its vehicle's profile (visits, charging taper)",
        ),
        FunctionSpec(
            "statement-day",
            "functions.statement_day.handler.lambda_handler",
            "Statement workflow: sum one day of a monthly fleet's sessions",
            timeout_seconds=300,
        ),
        FunctionSpec(
            "write-statement",
            "functions.write_statement.handler.lambda_handler",
            "Statement workflow: write a monthly fleet's statement and its specification",
            timeout_seconds=900,
            memory_mb=1024,
        ),
        FunctionSpec(
            "start-statements",
            "functions.start_statements.handler.lambda_handler",
            "Scheduled on the 1st: starts last month's statement of every monthly fleet",
        ),
        FunctionSpec(
            "reap-sessions",
            "functions.reap_sessions.handler.lambda_handler",
            "Scheduled: closes sessions that went silent or whose connector is free again",
            timeout_seconds=300,
        ),
        FunctionSpec(
            "publish-events",
            "functions.publish_events.handler.lambda_handler",
            "Sessions' and connectors' changes (DynamoDB streams) as live fleet events on EventBridge",
        ),
        FunctionSpec(
            "schedule-site",
            "functions.schedule_site.handler.lambda_handler",
            "Depot scheduling: replans a site on arrivals, departures, charging needs, profile answers "
            "and drift, and sends chargers their SetChargingProfile",
            timeout_seconds=60,
        ),
        FunctionSpec(
            "fleet-api",
            "functions.fleet_api.handler.lambda_handler",
            "Fleet API behind API Gateway: fleet status, sessions, chargers",
        ),
    )
}


@dataclass(frozen=True)
class Names:
    """Physical names for one deployment. `prefix` lets two stages live in one account."""

    prefix: str = "laddvakt"

    @property
    def registry_table(self) -> str:
        return f"{self.prefix}-registry"

    @property
    def sessions_table(self) -> str:
        return f"{self.prefix}-sessions"

    @property
    def rejected_frames_table(self) -> str:
        return f"{self.prefix}-rejected-frames"

    @property
    def ingest_queue(self) -> str:
        return f"{self.prefix}-ingest"

    @property
    def ingest_dead_letter_queue(self) -> str:
        return f"{self.prefix}-ingest-dlq"

    @property
    def ingest_rule(self) -> str:
        # IoT rule names allow letters, digits and underscores only.
        return f"{self.prefix.replace('-', '_')}_ocpp_ingest"

    @property
    def ledger_out_rule(self) -> str:
        return f"{self.prefix.replace('-', '_')}_ocpp_out_ledger"

    @property
    def ledger_stream(self) -> str:
        return f"{self.prefix}-raw-frames"

    def ledger_bucket(self, account: str, region: str) -> str:
        return f"{self.prefix}-ledger-{account}-{region}"

    @property
    def billing_state_machine(self) -> str:
        return f"{self.prefix}-close-and-invoice"

    @property
    def statement_state_machine(self) -> str:
        return f"{self.prefix}-monthly-statement"

    @property
    def fleet_event_bus(self) -> str:
        return f"{self.prefix}-fleet"

    @property
    def fleet_events_dead_letter_queue(self) -> str:
        return f"{self.prefix}-fleet-events-dlq"

    @property
    def schedule_dead_letter_queue(self) -> str:
        return f"{self.prefix}-schedule-dlq"

    @property
    def fleet_api(self) -> str:
        return f"{self.prefix}-fleet-api"

    @property
    def user_pool(self) -> str:
        return f"{self.prefix}-fleet-users"

    def function(self, key: str) -> str:
        if key not in FUNCTIONS:
            raise KeyError(f"unknown function {key!r}; known: {sorted(FUNCTIONS)}")
        return f"{self.prefix}-{key}"

    @property
    def billing_table(self) -> str:
        return f"{self.prefix}-billing"

    @property
    def analytics_table(self) -> str:
        return f"{self.prefix}-analytics"

    def invoice_bucket(self, account: str, region: str) -> str:
        # Bucket names are global: account and region make them unique per deployment.
        return f"{self.prefix}-invoices-{account}-{region}"


# Environment variables CDK sets on the functions and each function's settings model reads.
ENV_REGISTRY_TABLE = "REGISTRY_TABLE"
ENV_SESSIONS_TABLE = "SESSIONS_TABLE"
ENV_REJECTED_FRAMES_TABLE = "REJECTED_FRAMES_TABLE"
ENV_INVOICE_BUCKET = "INVOICE_BUCKET"
ENV_BILLING_TABLE = "BILLING_TABLE"
ENV_ANALYTICS_TABLE = "ANALYTICS_TABLE"
ENV_STATEMENT_STATE_MACHINE_ARN = "STATEMENT_STATE_MACHINE_ARN"
ENV_BILLING_STATE_MACHINE_ARN = "BILLING_STATE_MACHINE_ARN"
ENV_IOT_DATA_ENDPOINT = "IOT_DATA_ENDPOINT"
ENV_SILENCE_TIMEOUT_MINUTES = "SILENCE_TIMEOUT_MINUTES"
ENV_FLEET_EVENT_BUS = "FLEET_EVENT_BUS"

# The `source` of every live fleet event on the fleet event bus (docs/events.md).
FLEET_EVENT_SOURCE = "laddvakt.fleet"

# Bookkeeping retention under S3 Object Lock: the Swedish Bokföringslagen keeps records for seven
# years after the end of the calendar year they belong to, so up to eight years from issue.
INVOICE_RETENTION_DAYS = 8 * 365 + 2

# When monthly statements start: 03:00 UTC on the 1st (04:00 or 05:00 in Stockholm), when the
# month has ended in every European zone.
STATEMENT_SCHEDULE = "cron(0 3 1 * ? *)"

# How often the reaper looks for sessions that never ended (an EventBridge schedule expression).
REAPER_SCHEDULE = "rate(5 minutes)"

# How often the scheduler looks for unanswered profiles, due retries and meter drift.
SCHEDULE_SWEEP = "rate(1 minute)"

# Claims the fleet API reads from the Cognito authorizer (and the local one that imitates it).
CLAIM_FLEET_ID = "custom:fleet_id"
CLAIM_GROUPS = "cognito:groups"

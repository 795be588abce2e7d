"""Typed configuration: one settings model per function, filled from the environment at cold start.

CDK passes names and ARNs only (see `shared.topology` for the variable names). Business code
never reads `os.environ`: a handler builds its settings once at import and hands the values on.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.domain.charger_health import DEFAULT_HEARTBEAT_INTERVAL_SECONDS

# What BootNotification tells chargers, and what the fleet API judges them online by.
HeartbeatInterval = Field(default=DEFAULT_HEARTBEAT_INTERVAL_SECONDS, ge=10, le=86_400)


class _FunctionSettings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)


class IngestSettings(_FunctionSettings):
    registry_table: str
    sessions_table: str
    rejected_frames_table: str
    billing_state_machine_arn: str
    # The account's IoT data endpoint (https://…-ats.iot.<region>.amazonaws.com). Empty means
    # the SDK default, which the local stack points at moto.
    iot_data_endpoint: str = ""
    heartbeat_interval_seconds: int = HeartbeatInterval


class BillingSettings(_FunctionSettings):
    """The four steps of the close-and-invoice workflow share one configuration."""

    registry_table: str
    sessions_table: str
    invoice_bucket: str
    billing_table: str


class RollupSettings(_FunctionSettings):
    """The billing workflow's last step: a priced session into its fleet's daily rollups."""

    sessions_table: str
    analytics_table: str


class ProfileSettings(_FunctionSettings):
    """The billing workflow's RecordVehicleProfile step: a closed session into its vehicle's profile."""

    registry_table: str
    sessions_table: str


class StatementSettings(_FunctionSettings):
    """The schedule's Lambda that starts each month's statements."""

    registry_table: str
    statement_state_machine_arn: str
    # Whose month: a statement run on the 1st bills the month that just ended here.
    statement_time_zone: str = "Europe/Stockholm"


class ReaperSettings(_FunctionSettings):
    registry_table: str
    sessions_table: str
    billing_state_machine_arn: str
    # A session with no frame for this long is closed at its last reading.
    silence_timeout_minutes: int = Field(default=120, ge=5, le=7 * 24 * 60)


class FleetApiSettings(_FunctionSettings):
    registry_table: str
    sessions_table: str
    billing_table: str
    invoice_bucket: str
    heartbeat_interval_seconds: int = HeartbeatInterval
    analytics_table: str


class PublishEventsSettings(_FunctionSettings):
    fleet_event_bus: str


class ScheduleSiteSettings(_FunctionSettings):
    registry_table: str
    sessions_table: str
    # Empty: boto3 finds the account's endpoint (the local stack sets AWS_ENDPOINT_URL).
    iot_data_endpoint: str = ""

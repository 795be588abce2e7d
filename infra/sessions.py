"""The DynamoDB tables: registry, sessions and rejected frames (key design in the adapters)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from shared.adapters.registry_table import BY_FLEET_INDEX
from shared.adapters.sessions_table import (
    ACTIVE_BY_FLEET_INDEX,
    BY_CHARGER_STARTED_INDEX,
    BY_FLEET_STARTED_INDEX,
    BY_VEHICLE_STARTED_INDEX,
    FLEET_CHARGER,
    FLEET_VEHICLE,
)
from shared.topology import Names

S = dynamodb.AttributeType.STRING


def _table(
    scope: Construct, id_: str, name: str, partition: str, sort: str | None = None, **extra: object
) -> dynamodb.Table:
    return dynamodb.Table(
        scope,
        id_,
        table_name=name,
        partition_key=dynamodb.Attribute(name=partition, type=S),
        sort_key=dynamodb.Attribute(name=sort, type=S) if sort else None,
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        removal_policy=RemovalPolicy.RETAIN,
        **extra,  # type: ignore[arg-type]
    )


class SessionStore(Construct):
    def __init__(self, scope: Construct, id_: str, names: Names) -> None:
        super().__init__(scope, id_)
        # Both tables stream their changes (old and new image) for the live fleet events.
        changes = dynamodb.StreamViewType.NEW_AND_OLD_IMAGES
        # Pending charging-profile commands expire a day after they were sent (`expires_at`).
        self.registry = _table(
            self,
            "registry",
            names.registry_table,
            "pk",
            "sk",
            stream=changes,
            time_to_live_attribute="expires_at",
        )
        self.registry.add_global_secondary_index(
            index_name=BY_FLEET_INDEX,
            partition_key=dynamodb.Attribute(name="gsi1pk", type=S),
            sort_key=dynamodb.Attribute(name="gsi1sk", type=S),
        )
        # A session is a head item (sk SESSION) and one item per meter sample (sk SAMPLE#time).
        self.sessions = _table(self, "sessions", names.sessions_table, "session_id", "sk", stream=changes)
        # Sparse: only active sessions carry active_fleet_id, so the index holds what is live now.
        self.sessions.add_global_secondary_index(
            index_name=ACTIVE_BY_FLEET_INDEX,
            partition_key=dynamodb.Attribute(name="active_fleet_id", type=S),
            sort_key=dynamodb.Attribute(name="session_id", type=S),
        )
        self.sessions.add_global_secondary_index(
            index_name=BY_FLEET_STARTED_INDEX,
            partition_key=dynamodb.Attribute(name="fleet_id", type=S),
            sort_key=dynamodb.Attribute(name="started_at", type=S),
        )
        # One vehicle's and one charger's sessions by start, within the fleet (`{fleet}#{id}`):
        # a filter that selective reads its own partition instead of the fleet's whole history.
        for index, partition in (
            (BY_VEHICLE_STARTED_INDEX, FLEET_VEHICLE),
            (BY_CHARGER_STARTED_INDEX, FLEET_CHARGER),
        ):
            self.sessions.add_global_secondary_index(
                index_name=index,
                partition_key=dynamodb.Attribute(name=partition, type=S),
                sort_key=dynamodb.Attribute(name="started_at", type=S),
            )
        self.rejected_frames = _table(
            self,
            "rejected-frames",
            names.rejected_frames_table,
            "charge_point_id",
            "received_key",
            time_to_live_attribute="expires_at",
        )

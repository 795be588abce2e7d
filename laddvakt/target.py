"""Where a CLI command acts: the running local stack (from `.laddvakt/local.json`) or a deployed
stack (from its CloudFormation outputs, with the credentials in your environment).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from shared.topology import STACK_NAME

DEFAULT_STATE_DIR = Path(".laddvakt")


@dataclass(frozen=True)
class Target:
    registry_table: str
    sessions_table: str
    rejected_frames_table: str
    invoice_bucket: str
    billing_state_machine_arn: str
    statement_state_machine_arn: str
    ledger_bucket: str
    region: str
    endpoint_url: str | None = None
    api_url: str | None = None
    # Local only: the queue the local stack's tap rule copies every live fleet event to.
    fleet_events_tap_queue: str | None = None

    def _session(self) -> boto3.Session:
        if self.endpoint_url:
            # The local stack accepts any key; boto3 still needs one to sign with.
            return boto3.Session(
                aws_access_key_id="laddvakt-local",
                aws_secret_access_key="laddvakt-local",
                region_name=self.region,
            )
        return boto3.Session(region_name=self.region)

    def client(self, service: str) -> Any:
        return self._session().client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]

    def table(self, name: str) -> Any:
        return self._session().resource("dynamodb", endpoint_url=self.endpoint_url).Table(name)


class NoTarget(RuntimeError):
    pass


def local_target(state_dir: Path = DEFAULT_STATE_DIR) -> Target:
    state_file = state_dir / "local.json"
    if not state_file.exists():
        raise NoTarget(
            f"no running local stack ({state_file} not found): start one with `laddvakt up`, "
            f"or pass --stack NAME for a deployed stack"
        )
    state = json.loads(state_file.read_text())
    names = state["names"]
    return Target(
        registry_table=names["registry_table"],
        sessions_table=names["sessions_table"],
        rejected_frames_table=names["rejected_frames_table"],
        invoice_bucket=names["invoice_bucket"],
        billing_state_machine_arn=names["billing_state_machine"],
        statement_state_machine_arn=names["statement_state_machine"],
        ledger_bucket=names["ledger_bucket"],
        region=state["region"],
        endpoint_url=state["endpoint_url"],
        api_url=state.get("api_url"),
        fleet_events_tap_queue=names.get("fleet_events_tap_queue"),
    )


def deployed_target(stack_name: str = STACK_NAME, region: str | None = None) -> Target:
    cloudformation = boto3.client("cloudformation", region_name=region)
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    missing = {
        "RegistryTableName",
        "SessionsTableName",
        "RejectedFramesTableName",
        "InvoiceBucketName",
        "BillingStateMachineArn",
        "LedgerBucketName",
    } - set(outputs)
    if missing:
        raise NoTarget(f"stack {stack_name} lacks outputs {sorted(missing)}; deploy this version first")
    return Target(
        registry_table=outputs["RegistryTableName"],
        sessions_table=outputs["SessionsTableName"],
        rejected_frames_table=outputs["RejectedFramesTableName"],
        invoice_bucket=outputs["InvoiceBucketName"],
        billing_state_machine_arn=outputs["BillingStateMachineArn"],
        statement_state_machine_arn=outputs.get("StatementStateMachineArn", ""),
        ledger_bucket=outputs["LedgerBucketName"],
        region=cloudformation.meta.region_name,
        api_url=outputs.get("ApiUrl"),
    )


def resolve(stack: str | None, state_dir: Path = DEFAULT_STATE_DIR) -> Target:
    return deployed_target(stack) if stack else local_target(state_dir)

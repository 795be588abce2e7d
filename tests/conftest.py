"""Fixtures every test folder may use. The CDK app is synthesized once per test session: the first
synth in a process costs several seconds, and every folder needs the same template.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from laddvakt.local.deploy import LocalDeployment
from shared.adapters.aws import client as aws_clients
from shared.adapters.aws import dynamodb_table as aws_tables
from shared.adapters.registry_table import RegistryTable
from shared.models.registry import RegistryDocument
from shared.topology import Names
from tests.unit.conftest import EXAMPLE_REGISTRY


@pytest.fixture(scope="session")
def synthesized():  # type: ignore[no-untyped-def]
    from infra.synth import synthesize_app

    return synthesize_app()


@pytest.fixture(scope="session")
def synthesized_template(synthesized) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return synthesized.template


# --- one moto world per test session, built from the synthesized template ---------------------
# Tables, the bucket and the queues are created by the local stack's deployer from the same
# template `cdk deploy` uses, so a key schema can never be copied wrong into a test.


REGION = "eu-north-1"
ACCOUNT = "123456789012"
NAMES = Names()


@dataclass(frozen=True)
class AwsWorld:
    registry_table: str
    sessions_table: str
    rejected_frames_table: str
    invoice_bucket: str
    billing_table: str
    state_machine_arn: str
    analytics_table: str

    def table(self, name: str) -> Any:
        return boto3.resource("dynamodb", region_name=REGION).Table(name)

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION)

    def env(self) -> dict[str, str]:
        return {
            "REGISTRY_TABLE": self.registry_table,
            "SESSIONS_TABLE": self.sessions_table,
            "REJECTED_FRAMES_TABLE": self.rejected_frames_table,
            "INVOICE_BUCKET": self.invoice_bucket,
            "BILLING_TABLE": self.billing_table,
            "BILLING_STATE_MACHINE_ARN": self.state_machine_arn,
            "ANALYTICS_TABLE": self.analytics_table,
        }


@pytest.fixture(scope="session")
def aws(synthesized_template: dict[str, Any]) -> Iterator[AwsWorld]:
    saved = dict(os.environ)
    os.environ.update(
        {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "POWERTOOLS_TRACE_DISABLED": "1",
            "POWERTOOLS_METRICS_NAMESPACE": "Laddvakt",
            "POWERTOOLS_SERVICE_NAME": "laddvakt-test",
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws():
        LocalDeployment(synthesized_template, endpoint_url=None, region=REGION, account=ACCOUNT).create(
            {"AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SQS::Queue"}
        )
        # The real state machine is exercised end to end by the e2e tests; here StartExecution
        # only has to land on an existing machine.
        sfn = boto3.client("stepfunctions", region_name=REGION)
        arn = sfn.create_state_machine(
            name=NAMES.billing_state_machine,
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/laddvakt-test",
        )["stateMachineArn"]
        world = AwsWorld(
            registry_table=NAMES.registry_table,
            sessions_table=NAMES.sessions_table,
            rejected_frames_table=NAMES.rejected_frames_table,
            invoice_bucket=NAMES.invoice_bucket(ACCOUNT, REGION),
            billing_table=NAMES.billing_table,
            state_machine_arn=arn,
            analytics_table=NAMES.analytics_table,
        )
        document = RegistryDocument.model_validate_json(EXAMPLE_REGISTRY.read_text())
        RegistryTable(world.registry_table).import_document(document)
        os.environ.update(world.env())
        yield world
    os.environ.clear()
    os.environ.update(saved)


def _cold_start(module_name: str) -> ModuleType:
    """Import a handler as a fresh container would: the e2e tests' local stack may have imported
    it already, with that stack's environment (its bucket names and endpoint)."""
    loaded = sys.modules.get(module_name)
    return importlib.reload(loaded) if loaded is not None else importlib.import_module(module_name)


@pytest.fixture(scope="session")
def handlers(aws: AwsWorld) -> dict[str, ModuleType]:
    """The Lambda handler modules, imported once with their environment, as at a cold start."""
    aws_clients.cache_clear()
    aws_tables.cache_clear()
    return {
        name: _cold_start(f"functions.{name}.handler")
        for name in (
            "ingest",
            "finalize_session",
            "price_session",
            "write_invoice",
            "mark_invoiced",
            "record_rollups",
            "record_vehicle_profile",
            "fleet_api",
        )
    }


class Context:
    function_name = "laddvakt-test"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:laddvakt-test"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/laddvakt-test"
    log_stream_name = "test"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


@pytest.fixture(scope="session")
def context() -> Context:
    return Context()

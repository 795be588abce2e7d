"""`laddvakt registry import` works against a deployed stack found by its CloudFormation outputs."""

from __future__ import annotations

import json

import boto3
import pytest

from laddvakt.cli import main
from laddvakt.local.deploy import LocalDeployment
from shared.topology import Names
from tests.unit.conftest import EXAMPLE_REGISTRY

pytestmark = pytest.mark.integration
NAMES = Names()
OTHER_REGION = "eu-west-1"


def test_registry_import_into_a_deployed_stack(aws, synthesized_template, monkeypatch, capsys):
    # The session's moto world is shared by every integration test: deploy into another region.
    monkeypatch.setenv("AWS_DEFAULT_REGION", OTHER_REGION)
    LocalDeployment(synthesized_template, endpoint_url=None, region=OTHER_REGION).create(
        {"AWS::DynamoDB::Table"}
    )
    # Given a deployed stack whose outputs name its tables (the outputs the CDK app declares)
    values = {
        "RegistryTableName": NAMES.registry_table,
        "SessionsTableName": NAMES.sessions_table,
        "RejectedFramesTableName": NAMES.rejected_frames_table,
        "InvoiceBucketName": NAMES.invoice_bucket("123456789012", "eu-north-1"),
        "BillingStateMachineArn": f"arn:aws:states:eu-north-1:123456789012:stateMachine:{NAMES.billing_state_machine}",
        "LedgerBucketName": NAMES.ledger_bucket("123456789012", "eu-north-1"),
    }
    assert set(values) <= set(synthesized_template["Outputs"])
    boto3.client("cloudformation").create_stack(
        StackName="Laddvakt",
        TemplateBody=json.dumps(
            {
                "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {k: {"Value": v} for k, v in values.items()},
            }
        ),
    )
    # When the registry file is imported with --stack
    assert main(["registry", "import", str(EXAMPLE_REGISTRY), "--stack", "Laddvakt"]) == 0
    # Then the deployed registry table holds it
    item = (
        boto3.resource("dynamodb")
        .Table(NAMES.registry_table)
        .get_item(Key={"pk": "CHARGER#LV-GBG-08", "sk": "META"})
    )
    assert item["Item"]["site_id"] == "gbg-taxi"
    assert "10 chargers" in capsys.readouterr().out


def test_a_broken_registry_file_is_refused_with_every_problem_and_writes_nothing(tmp_path, capsys):
    data = json.loads(EXAMPLE_REGISTRY.read_text())
    data["chargers"][0]["site_id"] = "atlantis"
    data["sites"][1]["tariff"]["energy_price_per_kwh"] = "-1"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(data))
    assert main(["registry", "import", str(broken), "--state-dir", str(tmp_path / "none")]) == 2
    errors = capsys.readouterr().err
    assert "refused, nothing was written" in errors
    assert "sites.1.tariff.energy_price_per_kwh" in errors


def test_without_a_running_stack_the_cli_says_how_to_start_one(tmp_path, capsys):
    assert main(["--state-dir", str(tmp_path), "frames", "rejected"]) == 2
    assert "laddvakt up" in capsys.readouterr().err

"""`make bench`: Laddvakt's speed, always as a ratio against a baseline measured in the same run.

Ingest: MeterValues frames per second through the real ingest handler (SQS batches of 10, moto
in-process, tables from the synthesized template), next to plain `put_item` of the same number
of session-sized items. The goal is a ratio of at least 0.8 and, per MeterValues frame, one
DynamoDB write and no read. Absolute numbers depend on the machine; the ratio and the request
counts are what to compare between commits.
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

REGION = "eu-north-1"
ACCOUNT = "123456789012"
FRAMES = 2000
BATCH = 10
ROUNDS = 3


def _template() -> dict[str, Any]:
    from infra.synth import synthesize

    return synthesize()


class _RequestCounter:
    """Counts DynamoDB API calls by operation through botocore's event hooks."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, event_name: str, **_: Any) -> None:
        self.calls[event_name.rsplit(".", 1)[-1]] += 1


def _sqs_event(frames: list[bytes], charge_point_id: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m{i}",
                "receiptHandle": f"r{i}",
                "body": json.dumps(
                    {
                        "payload": base64.b64encode(raw).decode(),
                        "chargePointId": charge_point_id,
                        "receivedAt": 1_763_884_800_000 + i,
                    }
                ),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1763884800000",
                    "SenderId": "AIDA",
                    "ApproximateFirstReceiveTimestamp": "1763884800001",
                },
                "messageAttributes": {},
                "md5OfBody": "x",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:laddvakt-ingest",
                "awsRegion": REGION,
            }
            for i, raw in enumerate(frames)
        ]
    }


def _meter_frame(i: int, transaction_id: int) -> bytes:
    # One reading every 15 s in time order, as a meter sends them (the steady state).
    at = datetime(2026, 11, 23, 8, 0, tzinfo=UTC) + timedelta(seconds=15 * i)
    return json.dumps(
        [
            2,
            f"mv{i}",
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": transaction_id,
                "meterValue": [
                    {
                        "timestamp": at.isoformat().replace("+00:00", "Z"),
                        "sampledValue": [
                            {"value": str(1_000_000 + 10 * i), "unit": "Wh"},
                            {"value": "11.0", "unit": "kW", "measurand": "Power.Active.Import"},
                            {"value": str(20 + i % 80), "unit": "Percent", "measurand": "SoC"},
                        ],
                    }
                ],
            },
        ]
    ).encode()


def _best_rate(run: Callable[[], None], count: int) -> tuple[float, list[float]]:
    rates = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        run()
        rates.append(count / (time.perf_counter() - started))
    return max(rates), rates


def bench_ingest() -> dict[str, Any]:
    import boto3
    from moto import mock_aws
    from moto.backends import get_backend

    from laddvakt.local.deploy import LocalDeployment
    from shared.adapters.aws import dynamodb_table
    from shared.adapters.registry_table import RegistryTable
    from shared.models.registry import RegistryDocument
    from shared.topology import Names

    template = _template()
    names = Names()
    os.environ.update(
        {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "POWERTOOLS_TRACE_DISABLED": "1",
            "POWERTOOLS_METRICS_DISABLED": "1",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_SERVICE_NAME": "laddvakt-bench",
            "REGISTRY_TABLE": names.registry_table,
            "SESSIONS_TABLE": names.sessions_table,
            "REJECTED_FRAMES_TABLE": names.rejected_frames_table,
        }
    )
    with mock_aws():
        LocalDeployment(template, endpoint_url=None, region=REGION, account=ACCOUNT).create(
            {"AWS::DynamoDB::Table"}
        )
        sfn = boto3.client("stepfunctions", region_name=REGION)
        os.environ["BILLING_STATE_MACHINE_ARN"] = sfn.create_state_machine(
            name="bench",
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/bench",
        )["stateMachineArn"]
        registry = Path(__file__).resolve().parent.parent / "examples" / "registry.json"
        RegistryTable(names.registry_table).import_document(
            RegistryDocument.model_validate_json(registry.read_text())
        )
        handler = importlib.import_module("functions.ingest.handler")

        class Context:
            function_name, memory_limit_in_mb, aws_request_id = "bench", 512, "bench"
            invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:bench"

            @staticmethod
            def get_remaining_time_in_millis() -> int:
                return 60_000

        cp = "LV-STHLM-01"
        start = json.dumps(
            [
                2,
                "s",
                "StartTransaction",
                {
                    "connectorId": 1,
                    "idTag": "RFID0001",
                    "meterStart": 1_000_000,
                    "timestamp": "2026-11-23T07:00:00Z",
                },
            ]
        ).encode()

        iot = get_backend("iot-data")[ACCOUNT][REGION]

        def new_session() -> int:
            # The transaction id is read from the reply on `{cp}/out`, as a charger reads it.
            handler.lambda_handler(_sqs_event([start], cp), Context())
            return int(json.loads(iot.published_payloads[-1][1])[2]["transactionId"])

        # Warm up: the first frame pays for imports, clients and the registry cache.
        transaction_id = new_session()
        handler.lambda_handler(_sqs_event([_meter_frame(0, transaction_id)], cp), Context())

        counter = _RequestCounter()
        sessions_table = dynamodb_table(names.sessions_table)  # the handle the adapter uses
        sessions_table.meta.client.meta.events.register("before-call.dynamodb", counter)
        counter.calls.clear()
        handler.lambda_handler(_sqs_event([_meter_frame(1, transaction_id)], cp), Context())
        per_frame = dict(counter.calls)
        sessions_table.meta.client.meta.events.unregister("before-call.dynamodb", counter)

        def run_handler() -> None:
            # A fresh session per round keeps the item as small as a real one (one sample a minute).
            tx = new_session()
            for offset in range(0, FRAMES, BATCH):
                frames = [_meter_frame(i, tx) for i in range(offset, offset + BATCH)]
                handler.lambda_handler(_sqs_event(frames, cp), Context())

        table = boto3.resource("dynamodb", region_name=REGION).Table(names.sessions_table)

        def run_put_item() -> None:
            for i in range(FRAMES):
                table.put_item(
                    Item={
                        "session_id": f"bench:{i % 50}",
                        "sk": f"SAMPLE#{i}",
                        "latest_register_wh": Decimal(1_000_000 + 10 * i),
                        "latest_power_w": Decimal(11000),
                        "latest_soc_percent": Decimal(20 + i % 80),
                        "samples": [{"t": "2026-11-23T08:00:00+00:00", "e": Decimal(i), "p": Decimal(11000)}],
                    }
                )

        handler_rate, handler_rates = _best_rate(run_handler, FRAMES)
        baseline_rate, baseline_rates = _best_rate(run_put_item, FRAMES)
    return {
        "benchmark": "ingest MeterValues through the ingest handler (moto in-process)",
        "frames": FRAMES,
        "batch": BATCH,
        "rounds": ROUNDS,
        "handler_frames_per_s": round(handler_rate, 1),
        "baseline_put_item_per_s": round(baseline_rate, 1),
        "ratio": round(handler_rate / baseline_rate, 3),
        "ratio_goal": 0.8,
        "dynamodb_requests_per_meter_frame": per_frame,
        "handler_rates": [round(r, 1) for r in handler_rates],
        "baseline_rates": [round(r, 1) for r in baseline_rates],
        "baseline_spread": round(statistics.pstdev(baseline_rates) / statistics.mean(baseline_rates), 3),
    }


def main() -> int:
    print("==> benchmark: ingest (this takes about a minute)", flush=True)
    result = bench_ingest()
    print(json.dumps(result, indent=2))
    out = Path("build/bench")
    out.mkdir(parents=True, exist_ok=True)
    (out / "ingest.json").write_text(json.dumps(result, indent=2))
    print(
        f"ingest: {result['handler_frames_per_s']} frames/s vs plain put_item {result['baseline_put_item_per_s']}/s "
        f"→ ratio {result['ratio']} (goal ≥ {result['ratio_goal']}); DynamoDB calls per MeterValues frame: "
        f"{result['dynamodb_requests_per_meter_frame']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

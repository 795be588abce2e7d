"""Frames and events as AWS delivers them to our handlers, for tests that drive the handlers."""

from __future__ import annotations

import base64
import json
from typing import Any

from moto.backends import get_backend

from tests.conftest import ACCOUNT, REGION


def sqs_event(*frames: bytes | str, charge_point_id: str) -> dict[str, Any]:
    records = []
    for i, raw in enumerate(frames):
        body = (
            raw
            if isinstance(raw, str)
            else json.dumps(
                {
                    "payload": base64.b64encode(raw).decode(),
                    "chargePointId": charge_point_id,
                    "receivedAt": 1763884800000 + i,
                }
            )
        )
        records.append(
            {
                "messageId": f"msg-{i}",
                "receiptHandle": f"rh-{i}",
                "body": body,
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
        )
    return {"Records": records}


def call(message_id: str, action: str, payload: dict[str, Any]) -> bytes:
    return json.dumps([2, message_id, action, payload]).encode()


def published(topic: str) -> list[list[Any]]:
    backend = get_backend("iot-data")[ACCOUNT][REGION]
    return [json.loads(payload) for t, payload in backend.published_payloads if t == topic]


def api_event(
    path: str,
    fleet_id: str | None,
    *,
    groups: str = "fleet_manager",
    query: dict[str, str] | None = None,
    method: str = "GET",
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST proxy event as the Cognito authorizer passes it on; a `body` that is
    not a string is sent as JSON."""
    claims = {"sub": "user-1", "cognito:groups": groups}
    if fleet_id is not None:
        claims["custom:fleet_id"] = fleet_id
    all_headers = {"Accept": "application/json", **(headers or {})}
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
        all_headers.setdefault("Content-Type", "application/json")
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "body": body,
        "isBase64Encoded": False,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/v1{path}",
            "stage": "v1",
            "requestId": "req-1",
            "accountId": ACCOUNT,
            "apiId": "api",
            "identity": {"sourceIp": "127.0.0.1"},
            "authorizer": {"claims": claims},
        },
    }

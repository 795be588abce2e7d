"""The local stack's fast encoder for DynamoDB reads writes the very document moto's own
serializer writes, for every attribute type a read can return."""

from __future__ import annotations

import json

import pytest
from moto.core.responses import ActionContext, get_service_model
from moto.core.serialize import get_serializer_class
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.responses import DynamoResult

from laddvakt.local.fast_reads import encode_read

ITEM = {
    "pk": {"S": "CHARGER#LV-GBG-08"},
    "price": {"N": "12.50"},
    "negative": {"N": "-0.001"},
    "blob": {"B": "aGVsbG8="},
    "nested": {"M": {"a": {"S": "å"}, "l": {"L": [{"N": "1"}, {"BOOL": True}, {"NULL": True}]}}},
    "strings": {"SS": ["a", "b"]},
    "numbers": {"NS": ["1", "2.5"]},
    "blobs": {"BS": ["aGVsbG8="]},
    "flag": {"BOOL": False},
}


def _result(operation: str) -> dict:
    item = {name: DynamoType(value) for name, value in ITEM.items()}
    if operation == "GetItem":
        return {"Item": item}
    if operation == "BatchGetItem":
        return {"Responses": {"registry": [item]}, "UnprocessedKeys": {}}
    return {"Count": 1, "ScannedCount": 3, "Items": [item], "LastEvaluatedKey": {"pk": {"S": "x"}}}


class _Handler:
    RESPONSE_KEY_PATH_TO_TRANSFORMER = None


@pytest.mark.parametrize("operation", ["Query", "Scan", "GetItem", "BatchGetItem"])
def test_a_read_encodes_to_the_same_document_as_motos_serializer(operation):
    # Given a read result with every attribute type
    result = DynamoResult(_result(operation))
    service = get_service_model("dynamodb")
    context = ActionContext(
        service, service.operation_model(operation), get_serializer_class("dynamodb", "json"), _Handler()
    )
    # When moto's serializer and the fast encoder both write it
    status, headers, body = result.execute_result(context)
    # Then the documents are the same
    assert status == 200 and headers == {"Content-Type": "application/x-amz-json-1.0"}
    assert json.loads(encode_read(result.result)) == json.loads(body)

"""What every adapter shares: boto3 clients built once per container, and AWS errors as domain errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from shared.domain.errors import StorageUnavailable

_RETRYABLE = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "SlowDown",
}

_CONFIG = Config(retries={"max_attempts": 5, "mode": "adaptive"}, connect_timeout=3, read_timeout=10)


@cache
def client(service: str, endpoint_url: str | None = None) -> Any:
    """One client per service and endpoint per container: creating clients is the slow part."""
    return boto3.client(service, endpoint_url=endpoint_url or None, config=_CONFIG)  # type: ignore[call-overload]


@cache
def dynamodb_table(name: str) -> Any:
    return boto3.resource("dynamodb", config=_CONFIG).Table(name)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextmanager
def aws_errors(action: str) -> Iterator[None]:
    """Turn transient AWS failures into `StorageUnavailable`; let every other ClientError through.

    The caller catches the specific codes it expects (a failed condition, a missing key) first.
    """
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _RETRYABLE or status >= 500:
            raise StorageUnavailable(f"{action}: {code or status}") from exc
        raise
    except BotoCoreError as exc:
        raise StorageUnavailable(f"{action}: {exc}") from exc

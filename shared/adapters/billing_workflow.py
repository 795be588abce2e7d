"""The close-and-invoice state machine: one Standard execution per session, named after it.

Step Functions refuses a second execution with the same name for 90 days, so a repeated
StopTransaction can never bill a session twice.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from botocore.exceptions import ClientError

from shared.adapters.aws import aws_errors, client, error_code

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def execution_name(session_id: str, attempt: str = "") -> str:
    """Execution names allow 80 of [A-Za-z0-9_-]; a short hash keeps distinct ids distinct.

    The first run of a session has no attempt; an operator's release of a held session names
    its own attempt, so it is a new run and still never a duplicate of another.
    """
    digest = hashlib.sha256(f"{session_id}|{attempt}".encode()).hexdigest()[:10]
    readable = _NAME_UNSAFE.sub("_", session_id)[: 60 - len(attempt)]
    suffix = f"-{attempt}" if attempt else ""
    return f"close-{readable}{suffix}-{digest}"


class StatementWorkflow:
    """The monthly statement workflow: one execution per fleet and month, named so that a second
    start of the same month is the same execution, never a second statement."""

    def __init__(self, state_machine_arn: str, *, sfn: Any = None) -> None:
        self._arn = state_machine_arn
        self._sfn = sfn if sfn is not None else client("stepfunctions")

    def start(self, fleet_id: str, month: str) -> None:
        with aws_errors(f"start the {month} statement of {fleet_id}"):
            try:
                self._sfn.start_execution(
                    stateMachineArn=self._arn,
                    name=f"statement-{_NAME_UNSAFE.sub('_', fleet_id)[:50]}-{month}",
                    input=json.dumps({"fleet_id": fleet_id, "month": month}),
                )
            except ClientError as exc:
                if error_code(exc) != "ExecutionAlreadyExists":
                    raise


class BillingWorkflow:
    def __init__(self, state_machine_arn: str, *, sfn: Any = None) -> None:
        self._arn = state_machine_arn
        self._sfn = sfn if sfn is not None else client("stepfunctions")

    def close_and_invoice(self, session_id: str, attempt: str = "") -> None:
        with aws_errors(f"start billing of {session_id}"):
            try:
                self._sfn.start_execution(
                    stateMachineArn=self._arn,
                    name=execution_name(session_id, attempt),
                    input=json.dumps({"session_id": session_id}),
                )
            except ClientError as exc:
                if error_code(exc) != "ExecutionAlreadyExists":
                    raise

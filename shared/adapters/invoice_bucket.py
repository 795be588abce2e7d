"""The invoice bucket: invoices as JSON under the key layout of `shared.domain.invoicing`."""

from __future__ import annotations

import json
from typing import Any

from shared.adapters.aws import aws_errors, client
from shared.models.sessions import Invoice


class InvoiceBucket:
    def __init__(self, bucket_name: str, *, s3: Any = None) -> None:
        self.name = bucket_name
        self._s3 = s3 if s3 is not None else client("s3")

    def put_invoice(self, key: str, invoice: Invoice) -> None:
        body = invoice.model_dump_json(indent=2).encode()
        with aws_errors(f"write invoice {key}"):
            self._s3.put_object(
                Bucket=self.name,
                Key=key,
                Body=body,
                ContentType="application/json",
                Metadata={"invoice-id": invoice.invoice_id, "session-id": invoice.session.session_id},
            )

    def get_invoice(self, key: str) -> Invoice:
        with aws_errors(f"read invoice {key}"):
            body = self._s3.get_object(Bucket=self.name, Key=key)["Body"].read()
        return Invoice.model_validate(json.loads(body))

    def download_url(self, key: str, seconds: int) -> str:
        """A presigned GET link: finance downloads the document straight from the bucket."""
        with aws_errors(f"sign a link to {key}"):
            return str(
                self._s3.generate_presigned_url(
                    "get_object", Params={"Bucket": self.name, "Key": key}, ExpiresIn=seconds
                )
            )

    def keys(self, prefix: str = "invoices/") -> list[str]:
        keys: list[str] = []
        paginator = self._s3.get_paginator("list_objects_v2")
        with aws_errors(f"list {prefix}"):
            for page in paginator.paginate(Bucket=self.name, Prefix=prefix):
                keys.extend(obj["Key"] for obj in page.get("Contents", []))
        return keys

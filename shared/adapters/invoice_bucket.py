"""The invoice bucket (write-once, S3 Object Lock): every form of every invoice and credit note,
and the sealed CDRs, under the key layout of `shared.domain.invoicing`."""

from __future__ import annotations

from typing import Any

from shared.adapters.aws import aws_errors, client
from shared.models.billing_documents import InvoiceFile, read_invoice_file

CONTENT_TYPES = {"json": "application/json", "xml": "application/xml", "pdf": "application/pdf"}


class InvoiceBucket:
    def __init__(self, bucket_name: str, *, s3: Any = None) -> None:
        self.name = bucket_name
        self._s3 = s3 if s3 is not None else client("s3")

    def put(self, key: str, body: bytes, metadata: dict[str, str]) -> None:
        """Write one form. A retried step writes the same bytes again: a new version of the same
        document, never a different one (the bucket keeps every version, none can be deleted)."""
        form = key.rsplit(".", 1)[-1]
        with aws_errors(f"write {key}"):
            self._s3.put_object(
                Bucket=self.name,
                Key=key,
                Body=body,
                ContentType=CONTENT_TYPES.get(form, "application/octet-stream"),
                Metadata=metadata,
                # Object Lock needs an integrity checksum on every write.
                ChecksumAlgorithm="SHA256",
            )

    def get(self, key: str) -> bytes:
        with aws_errors(f"read {key}"):
            body: bytes = self._s3.get_object(Bucket=self.name, Key=key)["Body"].read()
        return body

    def get_invoice(self, key: str) -> InvoiceFile:
        return read_invoice_file(self.get(key))

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

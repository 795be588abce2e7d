"""The raw ledger bucket: newline-delimited JSON records, one per frame, as Firehose wrote them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from shared.adapters.aws import aws_errors
from shared.replay import ArchivedFrame


class LedgerBucket:
    def __init__(self, bucket_name: str, *, s3: Any) -> None:
        self.name = bucket_name
        self._s3 = s3

    def frames(self, prefixes: Iterable[str]) -> list[ArchivedFrame]:
        frames: list[ArchivedFrame] = []
        paginator = self._s3.get_paginator("list_objects_v2")
        for prefix in prefixes:
            with aws_errors(f"list {prefix}"):
                pages = list(paginator.paginate(Bucket=self.name, Prefix=prefix))
            for page in pages:
                for obj in page.get("Contents", []):
                    with aws_errors(f"read {obj['Key']}"):
                        body = self._s3.get_object(Bucket=self.name, Key=obj["Key"])["Body"].read()
                    frames += [
                        ArchivedFrame.from_record(json.loads(line))
                        for line in body.splitlines()
                        if line.strip()
                    ]
        return frames

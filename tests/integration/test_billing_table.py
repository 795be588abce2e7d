"""Invoice numbers finance can book: one gapless series per seller, never reused, stable under retries."""

from __future__ import annotations

import uuid

import pytest

from shared.adapters.billing_table import BillingTable

pytestmark = pytest.mark.integration


@pytest.fixture
def seller() -> str:
    return f"seller-{uuid.uuid4().hex[:8]}"  # a fresh series for each test


def test_documents_are_numbered_one_after_another_from_one(aws, seller):
    numbers = BillingTable(aws.billing_table)
    assert [numbers.claim(seller, f"invoice:s{i}").number for i in range(4)] == [1, 2, 3, 4]
    assert numbers.last_number(seller) == 4


def test_a_retried_step_gets_the_number_its_document_already_has(aws, seller):
    numbers = BillingTable(aws.billing_table)
    first = numbers.claim(seller, "invoice:LV-GBG-08:17")
    numbers.claim(seller, "invoice:LV-GBG-08:18")
    # When the write-invoice step of session 17 runs again (a Step Functions retry)
    assert numbers.claim(seller, "invoice:LV-GBG-08:17") == first  # the same number and issue time
    # Then no number was spent on the retry
    assert numbers.last_number(seller) == 2


def test_two_sellers_have_their_own_series(aws, seller):
    numbers = BillingTable(aws.billing_table)
    other = f"{seller}-other"
    assert (numbers.claim(seller, "invoice:a").number, numbers.claim(other, "invoice:a").number) == (1, 1)


class RacedOnce(BillingTable):
    """Between reading the counter and taking the next number, another writer takes it."""

    def __init__(self, table_name: str, rival: BillingTable, seller: str) -> None:
        super().__init__(table_name)
        self._rival, self._seller, self.raced = rival, seller, False

    def _last_number(self, seller_id: str) -> int:
        last = super()._last_number(seller_id)
        if not self.raced:
            self.raced = True
            self._rival.claim(self._seller, "invoice:rival")
        return last


def test_a_number_taken_meanwhile_is_not_given_twice_and_leaves_no_gap(aws, seller):
    rival = BillingTable(aws.billing_table)
    raced = RacedOnce(aws.billing_table, rival, seller)
    mine = raced.claim(seller, "invoice:mine").number
    assert raced.raced
    theirs = rival.given(seller, "invoice:rival")
    assert theirs is not None and sorted([mine, theirs.number]) == [1, 2]
    assert rival.last_number(seller) == 2


def test_a_written_invoice_cannot_be_deleted_or_overwritten_in_place(aws):
    # Given an invoice in the bucket, created from the template with Object Lock in compliance mode
    s3 = aws.client("s3")
    key = f"invoices/test/{uuid.uuid4().hex}.json"
    version = s3.put_object(Bucket=aws.invoice_bucket, Key=key, Body=b"{}")["VersionId"]
    # When someone tries to delete that version
    with pytest.raises(s3.exceptions.ClientError) as refused:
        s3.delete_object(Bucket=aws.invoice_bucket, Key=key, VersionId=version)
    # Then S3 refuses, and the version is still there
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert s3.get_object(Bucket=aws.invoice_bucket, Key=key, VersionId=version)["Body"].read() == b"{}"

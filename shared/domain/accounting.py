"""The month's invoices as finance imports them into its books: one CSV row per document and VAT
rate, credit notes negative, amounts as plain decimals with a point (what every importer reads)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from decimal import Decimal

from shared.models.billing_documents import InvoiceFile

COLUMNS = (
    "document_number", "document_type", "issue_date", "due_date", "credits_invoice", "buyer",
    "buyer_vat_id", "buyer_reference", "session_id", "charge_point_id", "site_id", "started_local",
    "ended_local", "energy_kwh", "currency", "vat_category", "vat_rate", "taxable_amount",
    "vat_amount", "document_total",
)  # fmt: skip


def month_csv(files: Iterable[InvoiceFile]) -> str:
    """Rows in document-number order, so the series can be checked for gaps at a glance."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for file in sorted(files, key=lambda f: f.document.number):
        document = file.document
        sign = Decimal(-1) if document.is_credit_note else Decimal(1)
        for vat in document.vat_breakdown:
            writer.writerow(
                (
                    document.number,
                    "credit_note" if document.is_credit_note else "invoice",
                    document.issue_date.isoformat(),
                    document.due_date.isoformat() if document.due_date else "",
                    document.preceding_invoice.number if document.preceding_invoice else "",
                    document.buyer.name,
                    document.buyer.vat_id or "",
                    document.buyer_reference or "",
                    file.session.session_id,
                    file.session.charge_point_id,
                    file.session.site_id,
                    file.session.started_at_local.isoformat(),
                    file.session.ended_at_local.isoformat(),
                    f"{file.session.energy_kwh:f}",
                    document.currency,
                    vat.category.value,
                    f"{vat.rate or 0:f}",
                    f"{sign * vat.taxable_amount:f}",
                    f"{sign * vat.tax_amount:f}",
                    f"{sign * document.totals.payable:f}",
                )
            )
    return out.getvalue()

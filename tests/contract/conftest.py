"""The Peppol validator for the contract tests, and one summary line on what validating cost."""

from __future__ import annotations

from statistics import mean

import pytest

from laddvakt.peppol import PeppolValidator, shared_validator, validator_loaded
from tests.invoice_documents import peppol_validator as _load


@pytest.fixture(scope="session")
def peppol_validator() -> PeppolValidator:
    return _load()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not validator_loaded():
        return
    timings = shared_validator().timings
    documents = timings.document_seconds
    cache = (
        "XSLT from build/schematron cache"
        if timings.stylesheets_from_cache
        else "Schematron compiled to XSLT"
    )
    line = f"Peppol BIS 3 Schematron: rules loaded in {timings.compile_seconds:.2f} s ({cache})"
    if documents:
        line += (
            f"; {len(documents)} documents validated, {mean(documents) * 1000:.0f} ms each on average"
            f" (max {max(documents) * 1000:.0f} ms)"
        )
    terminalreporter.write_line(line)

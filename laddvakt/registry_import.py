"""`laddvakt registry import FILE [FILE ...]`: registry records from JSON documents and CSV files.

A CSV file holds one kind of record (named by the file, `sites.csv`, or by `--kind`): a header
row of field names, one record a row. Nested fields are flattened (`address_city`,
`tariff_energy_price_per_kwh`, `peppol_scheme`), per-connector and per-fleet maps are written
`2=50;3=50`, and an empty cell means the field's default. Every row of every file is checked and
every problem reported at once, each naming its file, row and id; references resolve against the
files imported together and what the registry already holds. Nothing is written unless all is well.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from pydantic import BaseModel, ValidationError

from shared.models.registry import (
    Address,
    Charger,
    Driver,
    FlatTariff,
    Fleet,
    Operator,
    PeppolAddress,
    RegistryDocument,
    RegistryRecords,
    Site,
    Token,
    Vehicle,
)

Kind = Literal["fleets", "sites", "chargers", "vehicles", "drivers", "tokens"]
KINDS: tuple[Kind, ...] = ("fleets", "sites", "chargers", "vehicles", "drivers", "tokens")
MODELS: dict[Kind, type[BaseModel]] = {
    "fleets": Fleet,
    "sites": Site,
    "chargers": Charger,
    "vehicles": Vehicle,
    "drivers": Driver,
    "tokens": Token,
}
# Nested records flattened into `{field}_{subfield}` columns.
NESTED: dict[str, type[BaseModel]] = {"address": Address, "tariff": FlatTariff, "peppol": PeppolAddress}
# Maps written `key=value;key=value` in one cell.
MAPS = {"connector_max_power_kw", "fleet_tariff_ids"}
# What the registry is asked when a reference is not among the files: a record's `fleet_id`
# (or, for a fleet, its own id), None when it is not there.
Lookup = Callable[[str, str], str | None]


def columns(kind: Kind) -> list[str]:
    """The CSV columns of a kind, in the model's order."""
    names: list[str] = []
    for name in MODELS[kind].model_fields:
        nested = NESTED.get(name)
        if nested is not None:
            names += [f"{name}_{sub}" for sub in nested.model_fields]
        else:
            names.append(name)
    return names


def _required(kind: Kind) -> list[str]:
    return [name for name, info in MODELS[kind].model_fields.items() if info.is_required()]


def _id_field(kind: Kind) -> str:
    return "id_tag" if kind == "tokens" else "id"


@dataclass(frozen=True)
class Row:
    """One record read from a file, with where it came from."""

    where: str
    record: Any


@dataclass
class Batch:
    """Everything read from the files given together, and every problem found in them."""

    operator: Operator | None = None
    rows: dict[Kind, list[Row]] = field(default_factory=lambda: {k: [] for k in KINDS})
    # Ids of rows that were refused: a reference to one of them is not a second problem.
    refused_ids: dict[Kind, set[str]] = field(default_factory=lambda: {k: set() for k in KINDS})
    problems: list[str] = field(default_factory=list)

    def records(self) -> RegistryRecords:
        return RegistryRecords(
            operator=self.operator,
            **{kind: [row.record for row in self.rows[kind]] for kind in KINDS},
        )

    def counts(self) -> dict[str, int]:
        return {kind: len(rows) for kind, rows in self.rows.items()}


def kind_of(path: Path, given: str | None) -> Kind | None:
    name = given or path.stem.lower()
    return cast(Kind, name) if name in KINDS else None


def read_files(paths: Iterable[Path], kind: str | None = None) -> Batch:
    """Read every file (JSON documents and CSV files) into one batch, with every problem."""
    batch = Batch()
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            batch.problems.append(f"{path.name}: cannot read it ({exc.strerror})")
            continue
        except UnicodeDecodeError:
            batch.problems.append(f"{path.name}: not UTF-8 text")
            continue
        if path.suffix.lower() == ".json":
            _read_document(path.name, text, batch)
            continue
        file_kind = kind_of(path, kind)
        if file_kind is None:
            batch.problems.append(
                f"{path.name}: which records does it hold? Name it {', '.join(k + '.csv' for k in KINDS)} "
                "or pass --kind"
            )
            continue
        read_csv(path.name, text, file_kind, batch)
    _find_duplicates(batch)
    return batch


def _read_document(source: str, text: str, batch: Batch) -> None:
    try:
        document = RegistryDocument.model_validate_json(text)
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "(document)"
            batch.problems.append(f"{source}: {where}: {error['msg']}")
        return
    if batch.operator is not None:
        batch.problems.append(f"{source}: a second operator (one import has one seller)")
    batch.operator = document.operator
    for kind in KINDS:
        for index, record in enumerate(getattr(document, kind)):
            batch.rows[kind].append(Row(f"{source} {kind}[{index}]", record))


def read_csv(source: str, text: str, kind: Kind, batch: Batch) -> None:
    """Read one CSV file of `kind` into the batch: its rows that are sound, and a problem for
    each one that is not (rows are numbered as a spreadsheet shows them: the header is row 1)."""
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [name.strip() for name in next(reader, [])]
    known = columns(kind)
    unknown = [name for name in header if name not in known]
    missing = [name for name in _required(kind) if name not in header]
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if not header or unknown or missing or duplicated:
        if unknown:
            batch.problems.append(
                f"{source}: unknown column(s) {', '.join(unknown)} (a {kind} file has {', '.join(known)})"
            )
        if missing:
            batch.problems.append(f"{source}: missing column(s) {', '.join(missing)}")
        if duplicated:
            batch.problems.append(f"{source}: column(s) {', '.join(duplicated)} appear more than once")
        if not header:
            batch.problems.append(f"{source}: empty (a header row of field names comes first)")
        return
    id_field = _id_field(kind)
    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        row_id = cells[header.index(id_field)].strip() if len(cells) > header.index(id_field) else ""
        where = f"{source} row {number}" + (f" ({id_field} {row_id})" if row_id else "")
        if len(cells) > len(header):
            batch.problems.append(f"{where}: {len(cells)} cells but {len(header)} columns")
            batch.refused_ids[kind].add(row_id)
            continue
        record, problems = _record(dict(zip(header, cells, strict=False)))
        if not problems:
            try:
                batch.rows[kind].append(Row(where, MODELS[kind].model_validate(record)))
                continue
            except ValidationError as exc:
                problems = [f"{_column(error['loc'])}: {error['msg']}" for error in exc.errors()]
        batch.problems += [f"{where}: {problem}" for problem in problems]
        batch.refused_ids[kind].add(row_id)


def _record(cells: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """A row's cells as the record's fields (nested and mapped ones rebuilt); empty = default."""
    record: dict[str, Any] = {}
    problems: list[str] = []
    for column, raw in cells.items():
        cell = raw.strip()
        if not cell:
            continue
        if column in MAPS:
            entries: dict[str, str] = {}
            for part in filter(None, (p.strip() for p in cell.split(";"))):
                key, equals, value = part.partition("=")
                if not equals or not key.strip() or not value.strip():
                    problems.append(f"{column}: {part!r} is not key=value (e.g. 2=50;3=50)")
                    continue
                entries[key.strip()] = value.strip()
            record[column] = entries
            continue
        prefix, _, sub = column.partition("_")
        if prefix in NESTED and sub in NESTED[prefix].model_fields:
            record.setdefault(prefix, {})[sub] = cell
        else:
            record[column] = cell
    return record, problems


def _column(loc: tuple[int | str, ...]) -> str:
    """The column a validation error is about (the row itself for a rule across columns)."""
    if not loc:
        return "(row)"
    head = str(loc[0])
    if head in NESTED and len(loc) > 1:
        return f"{head}_{loc[1]}"
    if head in MAPS and len(loc) > 1:
        return f"{head} ({loc[1]})"
    return head


def _find_duplicates(batch: Batch) -> None:
    for kind in KINDS:
        first: dict[str, str] = {}
        for row in batch.rows[kind]:
            record_id = getattr(row.record, _id_field(kind))
            if record_id in first:
                batch.problems.append(
                    f"{row.where}: {_id_field(kind)} {record_id!r} again (first at {first[record_id]})"
                )
            else:
                first.setdefault(record_id, row.where)


def unresolved(batch: Batch, lookup: Lookup) -> list[str]:
    """Every reference that resolves neither among the files nor in the registry (`lookup`), and
    every token whose vehicle or driver is another fleet's."""
    problems: list[str] = []
    cache: dict[tuple[str, str], str | None] = {}

    def owner(kind: Kind, record_id: str) -> str | None:
        """The fleet a record belongs to (a fleet's own id), from the files, else the registry."""
        for row in batch.rows[kind]:
            if getattr(row.record, _id_field(kind)) == record_id:
                return record_id if kind == "fleets" else str(row.record.fleet_id)
        key = (kind, record_id)
        if key not in cache:
            cache[key] = lookup(kind.removesuffix("s"), record_id)
        return cache[key]

    def check(
        where: str, column: str, kind: Kind, record_id: str | None, fleet_id: str | None = None
    ) -> None:
        if record_id is None or record_id in batch.refused_ids[kind]:
            return
        found = owner(kind, record_id)
        if found is None:
            problems.append(
                f"{where}: {column}: {kind.removesuffix('s')} {record_id!r} is neither in the files nor in the registry"
            )
        elif fleet_id is not None and found != fleet_id:
            problems.append(
                f"{where}: {column}: {kind.removesuffix('s')} {record_id!r} belongs to another fleet"
            )

    for kind in ("sites", "vehicles", "drivers", "tokens"):
        for row in batch.rows[kind]:
            check(row.where, "fleet_id", "fleets", row.record.fleet_id)
    for row in batch.rows["chargers"]:
        check(row.where, "site_id", "sites", row.record.site_id)
    for row in batch.rows["tokens"]:
        check(row.where, "vehicle_id", "vehicles", row.record.vehicle_id, row.record.fleet_id)
        check(row.where, "driver_id", "drivers", row.record.driver_id, row.record.fleet_id)
    return problems


def site_fleets(batch: Batch, lookup: Lookup) -> dict[str, str]:
    """The fleet of each site a charger in the batch stands on but the batch does not hold."""
    in_batch = {row.record.id for row in batch.rows["sites"]}
    fleets: dict[str, str] = {}
    for row in batch.rows["chargers"]:
        site_id = row.record.site_id
        if site_id not in in_batch and site_id not in fleets:
            fleet_id = lookup("site", site_id)
            if fleet_id is not None:
                fleets[site_id] = fleet_id
    return fleets

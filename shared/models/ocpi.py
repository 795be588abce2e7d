"""OCPI 2.2.1 Tariff and CDR objects, in the spec's own field names, as they cross our boundary.

Parsing is strict, because a tariff is a price list someone is billed by: amounts are exact
Decimals (never floats), JSON numbers must be numbers, an unknown tariff field is refused rather
than ignored (a misspelt `restriction` would silently make an element unconditional), and a tariff
that could be read two ways is refused. Every refusal names the exact field, as a path like
`elements[2].restrictions.start_time`, and the reason.

The CDR model declares only what pricing reads or writes; every other field (cdr_token,
cdr_location, tariffs, ...) is carried through unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)

from shared.domain.errors import LaddvaktError

# ---------------------------------------------------------------------------------------------
# Errors


class OcpiInputError(LaddvaktError):
    """An OCPI object that cannot be used as given: carries the field path and the reason.

    `problems` lists every (field, reason) found; `field` and `reason` are the first of them.
    """

    what = "OCPI object"

    def __init__(self, field: str, reason: str, problems: list[tuple[str, str]] | None = None) -> None:
        self.field = field
        self.reason = reason
        self.problems = problems or [(field, reason)]
        super().__init__("; ".join(f"{f}: {r}" for f, r in self.problems))


class TariffError(OcpiInputError):
    """A tariff that does not parse, is ambiguous, or does not apply to the session."""

    what = "tariff"


class CdrError(OcpiInputError):
    """A CDR (or a list of charging periods) that cannot be priced as given."""

    what = "CDR"


class _FieldProblem(ValueError):
    """A validation problem whose field path is known better than pydantic's location."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


# ---------------------------------------------------------------------------------------------
# OCPI scalar types


def _number(value: Any) -> Any:
    # OCPI `number` is a JSON number. A string, or a boolean (an int to Python), is refused so
    # that "0.25" or true can never be read as a price.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("must be a JSON number")
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def _integer(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a JSON integer")
    if isinstance(value, Decimal | float) and value == int(value):
        raise ValueError(f"must be a JSON integer, not {value}")
    if not isinstance(value, int):
        raise ValueError("must be a JSON integer")
    return value


def _datetime(value: Any) -> Any:
    # OCPI DateTime: RFC 3339 in UTC; "The absence of the timezone designator implies a UTC
    # timestamp."
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValueError(f"{value!r} is not an RFC 3339 date-time") from None
    else:
        raise ValueError("must be an RFC 3339 date-time string")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


_TIME = re.compile(r"^([0-1][0-9]|2[0-3]):[0-5][0-9]$")
_DATE = re.compile(r"^([12][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")


def _time_of_day(value: Any) -> Any:
    if isinstance(value, time):
        return value
    if not isinstance(value, str) or not _TIME.match(value):
        raise ValueError(f"{value!r} is not a time of day as HH:MM (00:00 to 23:59)")
    return time(int(value[:2]), int(value[3:]))


def _date(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _DATE.match(value):
        raise ValueError(f"{value!r} is not a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a calendar date") from None


def _format_datetime(value: datetime) -> str:
    text = value.astimezone(UTC).replace(tzinfo=None).isoformat()
    return text + "Z"


Number = Annotated[Decimal, BeforeValidator(_number)]
NonNegative = Annotated[Decimal, BeforeValidator(_number), Field(ge=0)]
Integer = Annotated[int, BeforeValidator(_integer)]
OcpiDateTime = Annotated[datetime, BeforeValidator(_datetime), PlainSerializer(_format_datetime)]
TimeOfDay = Annotated[time, BeforeValidator(_time_of_day), PlainSerializer(lambda t: t.strftime("%H:%M"))]
LocalDate = Annotated[date, BeforeValidator(_date), PlainSerializer(lambda d: d.isoformat())]


class TariffDimensionType(StrEnum):
    ENERGY = "ENERGY"
    FLAT = "FLAT"
    PARKING_TIME = "PARKING_TIME"
    TIME = "TIME"


class DayOfWeek(StrEnum):
    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"

    @property
    def iso_weekday(self) -> int:
        return list(DayOfWeek).index(self) + 1


class ReservationRestrictionType(StrEnum):
    RESERVATION = "RESERVATION"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"


class TariffType(StrEnum):
    AD_HOC_PAYMENT = "AD_HOC_PAYMENT"
    PROFILE_CHEAP = "PROFILE_CHEAP"
    PROFILE_FAST = "PROFILE_FAST"
    PROFILE_GREEN = "PROFILE_GREEN"
    REGULAR = "REGULAR"


class CdrDimensionType(StrEnum):
    CURRENT = "CURRENT"
    ENERGY = "ENERGY"
    ENERGY_EXPORT = "ENERGY_EXPORT"
    ENERGY_IMPORT = "ENERGY_IMPORT"
    MAX_CURRENT = "MAX_CURRENT"
    MIN_CURRENT = "MIN_CURRENT"
    MAX_POWER = "MAX_POWER"
    MIN_POWER = "MIN_POWER"
    PARKING_TIME = "PARKING_TIME"
    POWER = "POWER"
    RESERVATION_TIME = "RESERVATION_TIME"
    STATE_OF_CHARGE = "STATE_OF_CHARGE"
    TIME = "TIME"


# ---------------------------------------------------------------------------------------------
# Tariff


class _Strict(BaseModel):
    # Unknown fields are refused: in a price list an ignored field is a silent change of meaning.
    model_config = ConfigDict(frozen=True, extra="forbid")


class Price(_Strict):
    """An amount excluding and (optionally) including VAT. Negative in a credit CDR."""

    excl_vat: Number
    incl_vat: Number | None = None


class PriceLimit(Price):
    """A tariff's min_price or max_price: never negative, never less including VAT than without."""

    excl_vat: NonNegative
    incl_vat: NonNegative | None = None

    @model_validator(mode="after")
    def _incl_not_below_excl(self) -> PriceLimit:
        if self.incl_vat is not None and self.incl_vat < self.excl_vat:
            raise _FieldProblem("incl_vat", f"{self.incl_vat} is below excl_vat {self.excl_vat}")
        return self


class DisplayText(_Strict):
    language: str = Field(min_length=2, max_length=2)
    text: str = Field(max_length=512)


class PriceComponent(_Strict):
    type: TariffDimensionType
    # Price per unit excluding VAT (per kWh, per hour, or per session for FLAT).
    price: NonNegative
    # A VAT percentage; None means "no VAT applicable", which is not the same as 0 %.
    vat: Annotated[Decimal, BeforeValidator(_number), Field(ge=0, le=100)] | None = None
    # Billing block in Wh (ENERGY) or seconds (TIME, PARKING_TIME); 0 bills the exact amount.
    step_size: Annotated[int, BeforeValidator(_integer), Field(ge=0)]


class TariffRestrictions(_Strict):
    start_time: TimeOfDay | None = None
    end_time: TimeOfDay | None = None
    start_date: LocalDate | None = None
    end_date: LocalDate | None = None
    min_kwh: NonNegative | None = None
    max_kwh: NonNegative | None = None
    min_current: NonNegative | None = None
    max_current: NonNegative | None = None
    min_power: NonNegative | None = None
    max_power: NonNegative | None = None
    min_duration: Annotated[int, BeforeValidator(_integer), Field(ge=0)] | None = None
    max_duration: Annotated[int, BeforeValidator(_integer), Field(ge=0)] | None = None
    day_of_week: list[DayOfWeek] = Field(default_factory=list)
    reservation: ReservationRestrictionType | None = None

    @model_validator(mode="after")
    def _unambiguous(self) -> TariffRestrictions:
        if self.start_time is not None and self.start_time == self.end_time:
            # Could mean "all day" or "never": refused rather than guessed.
            raise _FieldProblem(
                "end_time",
                f"start_time and end_time are both {self.start_time:%H:%M}: an empty window or a whole day?",
            )
        if self.start_date and self.end_date and self.end_date <= self.start_date:
            raise _FieldProblem(
                "end_date",
                f"end_date {self.end_date} is not after start_date {self.start_date} (end_date is exclusive)",
            )
        for low, high in (
            ("min_kwh", "max_kwh"),
            ("min_current", "max_current"),
            ("min_power", "max_power"),
            ("min_duration", "max_duration"),
        ):
            minimum, maximum = getattr(self, low), getattr(self, high)
            if minimum is not None and maximum is not None and maximum <= minimum:
                raise _FieldProblem(
                    high, f"{maximum} is not above {low} {minimum}: this element never applies"
                )
        if len(set(self.day_of_week)) != len(self.day_of_week):
            raise _FieldProblem("day_of_week", "lists a day twice")
        return self


class TariffElement(_Strict):
    price_components: list[PriceComponent] = Field(min_length=1)
    restrictions: TariffRestrictions | None = None

    def component(self, dimension: TariffDimensionType) -> PriceComponent | None:
        return next((c for c in self.price_components if c.type == dimension), None)


class Tariff(_Strict):
    # country_code, party_id and last_updated are required by OCPI; they are optional here because
    # pricing does not need them and real tariffs (and the reference vectors) omit them.
    country_code: str | None = Field(default=None, min_length=2, max_length=2)
    party_id: str | None = Field(default=None, min_length=3, max_length=3)
    id: str = Field(min_length=1, max_length=36)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    type: TariffType | None = None
    tariff_alt_text: list[DisplayText] = Field(default_factory=list)
    tariff_alt_url: str | None = None
    min_price: PriceLimit | None = None
    max_price: PriceLimit | None = None
    elements: list[TariffElement] = Field(min_length=1)
    start_date_time: OcpiDateTime | None = None
    end_date_time: OcpiDateTime | None = None
    energy_mix: dict[str, Any] | None = None
    last_updated: OcpiDateTime | None = None

    @field_validator("elements")
    @classmethod
    def _one_component_per_dimension(cls, elements: list[TariffElement]) -> list[TariffElement]:
        for index, element in enumerate(elements):
            seen: set[TariffDimensionType] = set()
            for position, component in enumerate(element.price_components):
                if component.type in seen:
                    raise _FieldProblem(
                        f"[{index}].price_components[{position}].type",
                        f"a second {component.type} component in the same element: which one applies is ambiguous",
                    )
                seen.add(component.type)
            reservation = element.restrictions.reservation if element.restrictions else None
            if reservation is not None:
                for position, component in enumerate(element.price_components):
                    if component.type not in (TariffDimensionType.FLAT, TariffDimensionType.TIME):
                        raise _FieldProblem(
                            f"[{index}].price_components[{position}].type",
                            f"a reservation element can only have FLAT and TIME components, not {component.type}",
                        )
        return elements

    @model_validator(mode="after")
    def _limits_and_validity(self) -> Tariff:
        if self.min_price and self.max_price:
            if self.max_price.excl_vat < self.min_price.excl_vat:
                raise _FieldProblem(
                    "max_price.excl_vat",
                    f"{self.max_price.excl_vat} is below min_price.excl_vat {self.min_price.excl_vat}",
                )
            low, high = self.min_price.incl_vat, self.max_price.incl_vat
            if low is not None and high is not None and high < low:
                raise _FieldProblem("max_price.incl_vat", f"{high} is below min_price.incl_vat {low}")
        taxed = any(c.vat for e in self.elements for c in e.price_components)
        for name in ("min_price", "max_price"):
            limit: PriceLimit | None = getattr(self, name)
            if limit is not None and limit.incl_vat is None and taxed:
                # Components carry VAT, so the session has a total including VAT, and the spec
                # bounds it separately; without incl_vat that bound is unknown.
                raise _FieldProblem(
                    f"{name}.incl_vat",
                    "missing while price components carry VAT: the bound on the total including VAT is unknown",
                )
        if self.start_date_time and self.end_date_time and self.end_date_time <= self.start_date_time:
            raise _FieldProblem("end_date_time", "is not after start_date_time")
        return self


# ---------------------------------------------------------------------------------------------
# CDR


class CdrDimension(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: CdrDimensionType
    volume: Number


class ChargingPeriod(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    start_date_time: OcpiDateTime
    dimensions: list[CdrDimension] = Field(min_length=1)
    tariff_id: str | None = Field(default=None, max_length=36)

    @field_validator("dimensions")
    @classmethod
    def _one_of_each(cls, dimensions: list[CdrDimension]) -> list[CdrDimension]:
        seen: set[CdrDimensionType] = set()
        for position, dimension in enumerate(dimensions):
            if dimension.type in seen:
                raise _FieldProblem(f"[{position}].type", f"{dimension.type} appears twice in this period")
            seen.add(dimension.type)
        return dimensions

    def volume(self, dimension: CdrDimensionType) -> Decimal | None:
        return next((d.volume for d in self.dimensions if d.type == dimension), None)


class Cdr(BaseModel):
    """An OCPI 2.2.1 CDR. Only what pricing reads or writes is declared; everything else is kept
    as received (extra fields) and written back unchanged."""

    model_config = ConfigDict(extra="allow")

    start_date_time: OcpiDateTime
    end_date_time: OcpiDateTime
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    charging_periods: list[ChargingPeriod] = Field(min_length=1)
    total_cost: Price | None = None
    total_fixed_cost: Price | None = None
    total_energy: Number | None = None
    total_energy_cost: Price | None = None
    total_time: Number | None = None
    total_time_cost: Price | None = None
    total_parking_time: Number | None = None
    total_parking_cost: Price | None = None
    total_reservation_cost: Price | None = None

    @model_validator(mode="after")
    def _periods_in_order(self) -> Cdr:
        if self.end_date_time < self.start_date_time:
            raise _FieldProblem("end_date_time", "is before start_date_time")
        previous: datetime | None = None
        for index, period in enumerate(self.charging_periods):
            if previous is not None and period.start_date_time < previous:
                raise _FieldProblem(
                    f"charging_periods[{index}].start_date_time", "is before the previous period's start"
                )
            if period.start_date_time > self.end_date_time:
                raise _FieldProblem(
                    f"charging_periods[{index}].start_date_time", "is after the CDR's end_date_time"
                )
            previous = period.start_date_time
        return self


# ---------------------------------------------------------------------------------------------
# Reading and writing JSON


def load_json(text: str | bytes) -> Any:
    """JSON with every non-integer number as an exact Decimal (never through a float)."""
    return json.loads(text, parse_float=Decimal)


def _path(location: tuple[int | str, ...]) -> str:
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(document)"


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for error in exc.errors():
        location = tuple(
            part
            for part in error["loc"]
            # pydantic names the branch of an Annotated/union type in the location; not a field.
            if not (isinstance(part, str) and ("[" in part or part in {"function-before", "function-after"}))
        )
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, _FieldProblem):
            prefix = _path(location)
            if prefix == "(document)":
                field = cause.field
            else:
                field = prefix + (cause.field if cause.field.startswith("[") else f".{cause.field}")
            problems.append((field, cause.reason))
            continue
        reason = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            reason = "is not a field of this OCPI 2.2.1 object"
        elif error["type"] == "missing":
            reason = "is required"
        problems.append((_path(location), reason))
    return problems


def parse_tariff(source: str | bytes | Mapping[str, Any]) -> Tariff:
    """A Tariff from JSON text or an already loaded mapping, or a TariffError naming the field."""
    try:
        data = load_json(source) if isinstance(source, str | bytes) else source
    except json.JSONDecodeError as exc:
        raise TariffError(
            "(document)", f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(data, Mapping):
        raise TariffError("(document)", "a Tariff is a JSON object")
    try:
        return Tariff.model_validate(data)
    except ValidationError as exc:
        problems = _problems(exc)
        raise TariffError(problems[0][0], problems[0][1], problems) from None


def parse_cdr(source: str | bytes | Mapping[str, Any]) -> Cdr:
    """A CDR from JSON text or a mapping, or a CdrError naming the field."""
    try:
        data = load_json(source) if isinstance(source, str | bytes) else source
    except json.JSONDecodeError as exc:
        raise CdrError("(document)", f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(data, Mapping):
        raise CdrError("(document)", "a CDR is a JSON object")
    try:
        return Cdr.model_validate(data)
    except ValidationError as exc:
        problems = _problems(exc)
        raise CdrError(problems[0][0], problems[0][1], problems) from None


def to_json(model: BaseModel, *, indent: int = 2) -> str:
    """A model as OCPI JSON: Decimals are written as JSON numbers with every digit they have
    (OCPI `number`), datetimes as UTC with a Z, absent optional fields left out."""
    return _encode(model.model_dump(mode="python", exclude_none=True), indent, 0)


def json_text(value: Any, *, indent: int = 2) -> str:
    """Plain JSON-ready data (dicts, lists, strings) with Decimals written as exact JSON numbers."""
    return _encode(value, indent, 0)


def _encode(value: Any, indent: int, depth: int) -> str:
    pad, inner = " " * indent * depth, " " * indent * (depth + 1)
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        items = [f"{inner}{json.dumps(str(k))}: {_encode(v, indent, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        return "[\n" + ",\n".join(inner + _encode(v, indent, depth + 1) for v in value) + "\n" + pad + "]"
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        text = format(value, "f")
        return text if text not in ("-0",) else "0"
    if isinstance(value, datetime):
        return json.dumps(_format_datetime(value))
    if isinstance(value, StrEnum):
        return json.dumps(value.value)
    if isinstance(value, time):
        return json.dumps(value.strftime("%H:%M"))
    if isinstance(value, date):
        return json.dumps(value.isoformat())
    return json.dumps(value)

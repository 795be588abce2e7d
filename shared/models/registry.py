"""The registry: who sells, which fleets buy, where their sites and chargers are, and whose RFID
tokens start sessions. `RegistryDocument` is the documented import format (`laddvakt registry
import FILE.json`); the other classes are what the registry table stores.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from shared.models.invoice import luhn_valid

Identifier = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._\-]+$")]
# OCPP 1.6 idTag is CiString20Type; a 2.0.1 idToken may be up to 36 characters.
IdTag = Annotated[str, StringConstraints(min_length=1, max_length=36)]
# A charge point id becomes an MQTT topic level, so no wildcards, slashes or `$`.
ChargePointId = Annotated[str, StringConstraints(min_length=1, max_length=48, pattern=r"^[A-Za-z0-9._\-]+$")]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
# An OCPI tariff id (CiString(36)).
TariffId = Annotated[str, StringConstraints(min_length=1, max_length=36, pattern=r"^[A-Za-z0-9._\-]+$")]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Address(_Record):
    street: str = ""
    postal_code: str = ""
    city: str = ""
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = "SE"


class PeppolAddress(_Record):
    """Where a party receives e-invoices: its Peppol participant id (EAS scheme and value)."""

    scheme: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")]
    value: Annotated[str, StringConstraints(min_length=1, max_length=100)]


class Party(_Record):
    """A legal party on an invoice: the seller (the charge point operator) or a buyer (a fleet)."""

    id: Identifier
    name: str
    vat_number: str = ""
    organisation_number: str = ""
    address: Address = Address()
    email: str = ""
    # Peppol participant id; a Swedish party with an organisation number defaults to 0007:{number}.
    peppol: PeppolAddress | None = None

    @field_validator("organisation_number")
    @classmethod
    def _swedish_check_digit(cls, value: str) -> str:
        digits = value.replace("-", "").replace(" ", "")
        if digits and len(digits) == 10 and digits.isdigit() and not luhn_valid(digits):
            raise ValueError(f"{value!r}: the check digit is wrong (Swedish organisation numbers use Luhn)")
        return value

    @property
    def electronic_address(self) -> PeppolAddress | None:
        if self.peppol is not None:
            return self.peppol
        digits = self.organisation_number.replace("-", "").replace(" ", "")
        if self.address.country == "SE" and len(digits) == 10:
            return PeppolAddress(scheme="0007", value=digits)
        return None


class Operator(Party):
    """The charge point operator: the seller on every invoice."""

    # The seller's invoice number series: `{series}-{number:07d}`, gapless, invoices and credit
    # notes alike.
    invoice_series: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{1,8}$")] = "LV"
    # The operator's OCPI party id (with the address's country code it names the CPO in CDRs).
    ocpi_party_id: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{3}$")] = "LVK"
    # How fleets pay: the invoice's due date and payment means.
    payment_terms_days: Annotated[int, Field(ge=0, le=365)] = 30
    bankgiro: Annotated[str, StringConstraints(pattern=r"^$|^[0-9]{3,4}-?[0-9]{4}$")] = ""
    iban: str = ""
    bic: str = ""
    # Swedish sellers approved for F-tax say so on every invoice ("Godkänd för F-skatt").
    f_skatt: bool = False
    registered_seat: str = ""


class Fleet(Party):
    """A company whose drivers and vehicles charge: the buyer on its sessions' invoices."""

    # "Er referens": how the fleet's accounts payable routes an invoice (Peppol needs one).
    buyer_reference: str = ""
    # One invoice per session, or one statement a month for all of them (with a per-session
    # specification); every session gets its sealed CDR either way.
    invoicing: Literal["per_session", "monthly"] = "per_session"


class FlatTariff(_Record):
    """The simplest price: per kWh excluding VAT, plus the VAT rate. It is priced as the OCPI
    tariff with one ENERGY component it stands for (`shared.domain.tariff_choice`)."""

    currency: CurrencyCode = "SEK"
    energy_price_per_kwh: Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=6)]
    vat_rate_percent: Annotated[Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2)]


class Site(_Record):
    id: Identifier
    fleet_id: Identifier
    name: str
    time_zone: str = "Europe/Stockholm"
    address: Address = Address()
    # Either a flat price per kWh, or an imported OCPI tariff (`laddvakt tariffs import`); the
    # operator sets it. A site a fleet admin registered through the API has none until then, and
    # its sessions are held ("no tariff") rather than invoiced.
    tariff: FlatTariff | None = None
    tariff_id: TariffId | None = None
    # Per-fleet overrides: the tariff a fleet was promised at this site.
    fleet_tariff_ids: dict[Identifier, TariffId] = {}
    # What the site's grid connection allows (kW); the chargers' load together must stay under it.
    grid_limit_kw: Annotated[Decimal, Field(gt=0, le=100_000)] | None = None

    @model_validator(mode="after")
    def _one_price(self) -> Site:
        if self.tariff is not None and self.tariff_id is not None:
            raise ValueError(f"site {self.id!r} has both tariff (flat) and tariff_id (OCPI): keep one")
        return self

    @property
    def priced(self) -> bool:
        return self.tariff is not None or self.tariff_id is not None

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_time_zone(value)


def known_time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r}") from exc
    return value


class Charger(_Record):
    id: ChargePointId
    site_id: Identifier
    connectors: Annotated[int, Field(ge=1, le=32)] = 1
    # Each connector's maximum power; `connector_max_power_kw` overrides it for single connectors
    # (a 50 kW DC outlet beside 22 kW AC ones).
    max_power_kw: Annotated[Decimal, Field(gt=0, le=1000)] = Decimal("22")
    connector_max_power_kw: dict[
        Annotated[int, Field(ge=1, le=32)], Annotated[Decimal, Field(gt=0, le=1000)]
    ] = {}
    ocpp_version: Literal["1.6", "2.0.1"] = "1.6"
    vendor: str = ""
    model: str = ""
    # A charger priced apart from its site (a DC fast charger at an AC depot), and per-fleet
    # overrides of that.
    tariff_id: TariffId | None = None
    fleet_tariff_ids: dict[Identifier, TariffId] = {}

    @model_validator(mode="after")
    def _connectors_exist(self) -> Charger:
        extra = sorted(c for c in self.connector_max_power_kw if c > self.connectors)
        if extra:
            raise ValueError(
                f"charger {self.id!r}: connector_max_power_kw names connector(s) {extra} but it has "
                f"{self.connectors}"
            )
        return self

    def connector_power_kw(self, connector_id: int) -> Decimal:
        """The most a connector can deliver (connector 0, the whole charger, is the largest)."""
        if connector_id == 0:
            return max([self.max_power_kw, *self.connector_max_power_kw.values()])
        return self.connector_max_power_kw.get(connector_id, self.max_power_kw)


class Vehicle(_Record):
    id: Identifier
    fleet_id: Identifier
    name: str = ""
    registration: str = ""
    battery_kwh: Annotated[Decimal, Field(gt=0, le=1000)] | None = None
    # What the car itself accepts: on AC its on-board charger, on DC its battery.
    max_ac_kw: Annotated[Decimal, Field(gt=0, le=50)] | None = None
    max_dc_kw: Annotated[Decimal, Field(gt=0, le=1000)] | None = None
    # Charged to this unless the fleet says otherwise for one session (charging needs).
    default_target_soc_percent: Annotated[Decimal, Field(gt=0, le=100)] = Decimal(80)
    # When the car usually leaves, in the site's local time ("07:30").
    usual_departure: Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")] | None = (
        None
    )


class Driver(_Record):
    id: Identifier
    fleet_id: Identifier
    name: str = ""
    email: str = ""


class Token(_Record):
    """An RFID card or other idTag, and whom it stands for."""

    id_tag: IdTag
    fleet_id: Identifier
    driver_id: Identifier | None = None
    vehicle_id: Identifier | None = None
    status: Literal["Accepted", "Blocked", "Expired"] = "Accepted"


class ChargingNeeds(_Record):
    """What a fleet manager asked for a vehicle's next charge: leave by `departure_at` (UTC) with
    `target_soc_percent` or `target_energy_kwh` added; neither means the vehicle's
    `default_target_soc_percent`. Read by the charging estimator and scheduler."""

    vehicle_id: Identifier
    fleet_id: Identifier
    departure_at: datetime
    target_soc_percent: Annotated[Decimal, Field(gt=0, le=100)] | None = None
    target_energy_kwh: Annotated[Decimal, Field(gt=0, le=1000)] | None = None
    updated_at: datetime

    @model_validator(mode="after")
    def _one_target(self) -> ChargingNeeds:
        if self.target_soc_percent is not None and self.target_energy_kwh is not None:
            raise ValueError("give target_soc_percent or target_energy_kwh, not both")
        return self


class RegistryRecords(_Record):
    """Records written together: a document's, or those of CSV files whose references the
    importer resolved (against the files and what the registry holds)."""

    operator: Operator | None = None
    fleets: list[Fleet] = []
    sites: list[Site] = []
    chargers: list[Charger] = []
    vehicles: list[Vehicle] = []
    drivers: list[Driver] = []
    tokens: list[Token] = []


class RegistryDocument(_Record):
    """The import file. Every reference must resolve inside the file or the import is refused."""

    operator: Operator
    fleets: list[Fleet] = []
    sites: list[Site] = []
    chargers: list[Charger] = []
    vehicles: list[Vehicle] = []
    drivers: list[Driver] = []
    tokens: list[Token] = []

    @model_validator(mode="after")
    def _references_resolve(self) -> RegistryDocument:
        problems: list[str] = []
        fleets = _unique("fleets", [f.id for f in self.fleets], problems)
        sites = _unique("sites", [s.id for s in self.sites], problems)
        vehicles = _unique("vehicles", [v.id for v in self.vehicles], problems)
        drivers = _unique("drivers", [d.id for d in self.drivers], problems)
        _unique("chargers", [c.id for c in self.chargers], problems)
        _unique("tokens", [t.id_tag for t in self.tokens], problems)
        for i, site in enumerate(self.sites):
            if site.fleet_id not in fleets:
                problems.append(f"sites[{i}] ({site.id}): fleet_id {site.fleet_id!r} is not in fleets")
        for i, charger in enumerate(self.chargers):
            if charger.site_id not in sites:
                problems.append(f"chargers[{i}] ({charger.id}): site_id {charger.site_id!r} is not in sites")
        owned: list[tuple[str, int, str, str]] = [
            *(("vehicles", i, v.id, v.fleet_id) for i, v in enumerate(self.vehicles)),
            *(("drivers", i, d.id, d.fleet_id) for i, d in enumerate(self.drivers)),
        ]
        for kind, i, item_id, fleet_id in owned:
            if fleet_id not in fleets:
                problems.append(f"{kind}[{i}] ({item_id}): fleet_id {fleet_id!r} is not in fleets")
        vehicle_fleet = {v.id: v.fleet_id for v in self.vehicles}
        driver_fleet = {d.id: d.fleet_id for d in self.drivers}
        for i, token in enumerate(self.tokens):
            where = f"tokens[{i}] ({token.id_tag})"
            if token.fleet_id not in fleets:
                problems.append(f"{where}: fleet_id {token.fleet_id!r} is not in fleets")
            if token.vehicle_id is not None and token.vehicle_id not in vehicles:
                problems.append(f"{where}: vehicle_id {token.vehicle_id!r} is not in vehicles")
            elif token.vehicle_id is not None and vehicle_fleet[token.vehicle_id] != token.fleet_id:
                problems.append(f"{where}: vehicle {token.vehicle_id!r} belongs to another fleet")
            if token.driver_id is not None and token.driver_id not in drivers:
                problems.append(f"{where}: driver_id {token.driver_id!r} is not in drivers")
            elif token.driver_id is not None and driver_fleet[token.driver_id] != token.fleet_id:
                problems.append(f"{where}: driver {token.driver_id!r} belongs to another fleet")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _unique(kind: str, ids: list[str], problems: list[str]) -> set[str]:
    seen: set[str] = set()
    for value in ids:
        if value in seen:
            problems.append(f"{kind}: {value!r} appears more than once")
        seen.add(value)
    return seen


class TokenGrant(_Record):
    """What an idTag look-up yields for Authorize and StartTransaction."""

    id_tag: str
    status: Literal["Accepted", "Blocked", "Expired", "Invalid"]
    fleet_id: str | None = None
    driver_id: str | None = None
    vehicle_id: str | None = None


class ChargerPlacement(_Record):
    """A registered charger with the site it stands on (one look-up for ingest)."""

    charger: Charger
    site: Site

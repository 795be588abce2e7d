"""The registry as a fleet admin manages it through the API: request bodies and answers.

A body never carries the record's id (the path names it) nor its fleet (the token does), and never
a price: tariffs are the operator's. Answers are views, separate from the stored records in
`shared.models.registry`. Decimals travel as JSON strings.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from shared.models.registry import ChargingNeeds, Vehicle, known_time_zone

Text = Annotated[str, StringConstraints(max_length=200)]
Kilowatts = Annotated[Decimal, Field(gt=0, le=1000, max_digits=10, decimal_places=3)]
Percent = Annotated[Decimal, Field(gt=0, le=100, max_digits=6, decimal_places=3)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        # A lone surrogate (a JSON "\ud800" escape) parses, but can never be stored or answered.
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError("not valid Unicode text") from exc
        return value


class AddressInput(_Body):
    street: Text = ""
    postal_code: Annotated[str, StringConstraints(max_length=20)] = ""
    city: Text = ""
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = "SE"


class SiteInput(_Body):
    """A site of the caller's fleet. Its price is the operator's: a new site has none until the
    operator sets one, and its sessions are held until then; a replace keeps the price."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Depå Solna",
                    "time_zone": "Europe/Stockholm",
                    "address": {"street": "Industrivägen 2", "postal_code": "171 48", "city": "Solna"},
                    "grid_limit_kw": "250",
                }
            ]
        }
    )

    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    time_zone: Annotated[str, StringConstraints(max_length=64)] = Field(
        default="Europe/Stockholm", description="IANA time zone: days and hours are counted in it"
    )
    address: AddressInput = AddressInput()
    grid_limit_kw: Annotated[Decimal, Field(gt=0, le=100_000, max_digits=10, decimal_places=3)] | None = (
        Field(
            default=None, description="What the grid connection allows; the chargers together stay under it"
        )
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_time_zone(value)


class ChargerInput(_Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "site_id": "sthlm-depot",
                    "connectors": 2,
                    "max_power_kw": "22",
                    "connector_max_power_kw": {"2": "50"},
                    "ocpp_version": "1.6",
                    "vendor": "Kempower",
                    "model": "S-Series",
                }
            ]
        }
    )

    site_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="A site of the caller's fleet"
    )
    connectors: Annotated[int, Field(ge=1, le=32)] = 1
    max_power_kw: Kilowatts = Field(default=Decimal("22"), description="Each connector's maximum power")
    connector_max_power_kw: dict[Annotated[int, Field(ge=1, le=32)], Kilowatts] = Field(
        default_factory=dict, description='Single connectors that differ, e.g. {"2": "50"}'
    )
    ocpp_version: Literal["1.6", "2.0.1"] = "1.6"
    vendor: Annotated[str, StringConstraints(max_length=100)] = ""
    model: Annotated[str, StringConstraints(max_length=100)] = ""

    @model_validator(mode="after")
    def _connectors_exist(self) -> ChargerInput:
        extra = sorted(c for c in self.connector_max_power_kw if c > self.connectors)
        if extra:
            raise ValueError(
                f"connector_max_power_kw names connector(s) {extra} but it has {self.connectors}"
            )
        return self


class VehicleInput(_Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Van 12",
                    "registration": "ABC 123",
                    "battery_kwh": "75",
                    "max_ac_kw": "11",
                    "max_dc_kw": "100",
                    "default_target_soc_percent": "80",
                    "usual_departure": "07:30",
                }
            ]
        }
    )

    name: Text = ""
    registration: Annotated[str, StringConstraints(max_length=20)] = ""
    battery_kwh: Kilowatts | None = Field(default=None, description="Usable battery capacity (kWh)")
    max_ac_kw: Annotated[Decimal, Field(gt=0, le=50, max_digits=8, decimal_places=3)] | None = Field(
        default=None, description="What its on-board charger accepts on AC"
    )
    max_dc_kw: Kilowatts | None = Field(default=None, description="What its battery accepts on DC")
    default_target_soc_percent: Percent = Field(
        default=Decimal(80), description="Charged to this unless its charging needs say otherwise"
    )
    usual_departure: Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")] | None = (
        Field(default=None, description="When it usually leaves, in the site's local time (HH:MM)")
    )


class DriverInput(_Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "Alva Berg", "email": "alva@nordvind.example"}]}
    )

    name: Text = ""
    email: Annotated[str, StringConstraints(max_length=254)] = ""


class TokenInput(_Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"vehicle_id": "nor-v01", "driver_id": "nor-d01", "status": "Accepted"}]
        }
    )

    driver_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None, description="A driver of the caller's fleet"
    )
    vehicle_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None, description="A vehicle of the caller's fleet"
    )
    status: Literal["Accepted", "Blocked", "Expired"] = "Accepted"


class ChargingNeedsInput(_Body):
    """Leave by `departure_at` with a target SoC or an energy to add (one of them, or neither for
    the vehicle's default target SoC)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"departure_at": "2026-11-24T06:30:00+01:00", "target_soc_percent": "90"},
                {"departure_at": "2026-11-24T06:30:00+01:00", "target_energy_kwh": "30"},
            ]
        }
    )

    departure_at: AwareDatetime = Field(
        description="With its UTC offset; not in the past, at most a year ahead (a target_soc_percent "
        "below the SoC of the plugged-in vehicle is refused too)"
    )
    target_soc_percent: Percent | None = None
    target_energy_kwh: Kilowatts | None = None

    @model_validator(mode="after")
    def _one_target(self) -> ChargingNeedsInput:
        if self.target_soc_percent is not None and self.target_energy_kwh is not None:
            raise ValueError("give target_soc_percent or target_energy_kwh, not both")
        return self


class RegisteredAddress(BaseModel):
    street: str
    postal_code: str
    city: str
    country: str


class SiteRegistration(BaseModel):
    id: str
    name: str
    time_zone: str
    address: RegisteredAddress
    grid_limit_kw: Decimal | None = None
    priced: bool = Field(
        description="The operator has set this site's price; until then its sessions are held"
    )


class SiteList(BaseModel):
    fleet_id: str
    sites: list[SiteRegistration] = Field(description="By id")
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page")


class ChargerRegistration(BaseModel):
    id: str = Field(description="The OCPP chargePointId (its MQTT topic level)")
    site_id: str
    connectors: int
    max_power_kw: Decimal
    connector_max_power_kw: dict[int, Decimal]
    ocpp_version: str
    vendor: str
    model: str


class VehicleRegistration(BaseModel):
    id: str
    name: str
    registration: str
    battery_kwh: Decimal | None = None
    max_ac_kw: Decimal | None = None
    max_dc_kw: Decimal | None = None
    default_target_soc_percent: Decimal
    usual_departure: str | None = None


class DriverRegistration(BaseModel):
    id: str
    name: str
    email: str


class DriverList(BaseModel):
    fleet_id: str
    drivers: list[DriverRegistration] = Field(description="By id")
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page")


class TokenRegistration(BaseModel):
    id_tag: str = Field(description="The RFID card's idTag as chargers send it")
    driver_id: str | None = None
    vehicle_id: str | None = None
    status: str


class TokenList(BaseModel):
    fleet_id: str
    tokens: list[TokenRegistration] = Field(description="By idTag")
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page")


class ChargingNeedsView(BaseModel):
    vehicle_id: str
    departure_at: datetime = Field(description="UTC")
    target_soc_percent: Decimal | None = Field(
        default=None, description="The SoC to reach; the vehicle's default when no target was given"
    )
    target_energy_kwh: Decimal | None = Field(default=None, description="The energy to add, when asked for")
    from_vehicle_default: bool = Field(description="No target was given: the vehicle's default target SoC")
    updated_at: datetime

    @classmethod
    def of(cls, needs: ChargingNeeds, vehicle: Vehicle) -> ChargingNeedsView:
        default = needs.target_soc_percent is None and needs.target_energy_kwh is None
        return cls(
            vehicle_id=needs.vehicle_id,
            departure_at=needs.departure_at,
            target_soc_percent=vehicle.default_target_soc_percent if default else needs.target_soc_percent,
            target_energy_kwh=needs.target_energy_kwh,
            from_vehicle_default=default,
            updated_at=needs.updated_at,
        )

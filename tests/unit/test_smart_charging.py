"""Smart charging rules: what a vehicle still needs and by when, the OCPP profiles that carry a
connector's plan, when a plan counts as changed, meter drift, and retries of a refused profile."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from shared.domain import ocpp_framing as framing
from shared.domain import smart_charging as smart
from shared.domain.central import answer_of
from shared.domain.departure import DepartureEstimate
from shared.domain.scheduling import PowerStep
from shared.models.scheduling import ProfileState
from shared.scheduling import refused

NOW = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
STEPS = (PowerStep(NOW, Decimal("11")), PowerStep(NOW + timedelta(hours=2), Decimal("4.6")))


def test_energy_need_prefers_the_fleets_target_energy_less_what_was_delivered():
    need = smart.energy_needed_kwh(
        delivered_kwh=Decimal(5), target_energy_kwh=Decimal(20), target_soc_percent=Decimal(80),
        soc_percent=Decimal(50), battery_kwh=Decimal(60),
    )  # fmt: skip
    assert need.value == Decimal(15) and need.basis == "charging needs' target energy"


def test_energy_need_from_target_soc_soc_and_battery():
    need = smart.energy_needed_kwh(
        delivered_kwh=Decimal(0), target_energy_kwh=None, target_soc_percent=Decimal(80),
        soc_percent=Decimal(50), battery_kwh=Decimal(60),
    )  # fmt: skip
    assert need.value == Decimal("18.000")


def test_without_soc_the_default_need_says_so():
    need = smart.energy_needed_kwh(
        delivered_kwh=Decimal(4), target_energy_kwh=None, target_soc_percent=Decimal(80),
        soc_percent=None, battery_kwh=Decimal(60),
    )  # fmt: skip
    assert need.value == smart.DEFAULT_ENERGY_NEED_KWH - 4
    assert "SoC unknown" in need.basis


def test_departure_prefers_the_declared_then_the_usual_then_the_estimates_p10():
    declared = NOW + timedelta(hours=10)
    estimate = DepartureEstimate(NOW + timedelta(hours=3), NOW + timedelta(hours=5), NOW + timedelta(hours=9),
                                 "the vehicle's past visits", "low")  # fmt: skip
    common = {"now": NOW, "time_zone": "Europe/Stockholm", "estimate": estimate}
    assert smart.departure_at(declared_at=declared, usual_departure="07:30", **common).value == declared
    usual = smart.departure_at(declared_at=None, usual_departure="07:30", **common)
    # 07:30 in Stockholm (UTC+1 in November) is 06:30 UTC, the next morning
    assert usual.value == datetime(2026, 11, 25, 6, 30, tzinfo=UTC)
    p10 = smart.departure_at(declared_at=None, usual_departure=None, **common)
    assert p10.value == estimate.p10_at and "P10" in p10.basis
    fallback = smart.departure_at(declared_at=NOW - timedelta(hours=1), usual_departure=None,
                                  now=NOW, time_zone="Europe/Stockholm", estimate=None)  # fmt: skip
    assert fallback.value == NOW + smart.DEFAULT_HORIZON


def test_ac_connectors_are_steered_in_amperes_and_dc_in_watts():
    assert smart.rate_unit(Decimal(11)) == "A"
    assert smart.rate_unit(Decimal(50)) == "W"


def test_ocpp16_profile_is_an_absolute_tx_profile_valid_against_the_schema():
    payload = smart.ocpp16_set_charging_profile(
        connector_id=1, transaction_id=42, profile_id=7, steps=STEPS, start=NOW, unit="A"
    )
    assert framing.schema_problem(framing.CALL, "SetChargingProfile", payload, "1.6", "m") is None
    profile = payload["csChargingProfiles"]
    assert profile["transactionId"] == 42 and profile["chargingProfilePurpose"] == "TxProfile"
    periods = profile["chargingSchedule"]["chargingSchedulePeriod"]
    # 11 kW over 3 × 230 V is 15.9 A; 4.6 kW is 6.6 A; both start where the plan says
    assert periods == [
        {"startPeriod": 0, "limit": Decimal("15.9"), "numberPhases": 3},
        {"startPeriod": 7200, "limit": Decimal("6.6"), "numberPhases": 3},
    ]


def test_below_six_amperes_an_ac_limit_is_zero_never_above_the_plan():
    steps = (PowerStep(NOW, Decimal("3")),)
    payload = smart.ocpp16_set_charging_profile(
        connector_id=1, transaction_id=1, profile_id=1, steps=steps, start=NOW, unit="A"
    )
    assert payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] == 0


def test_ocpp201_profile_names_the_evse_and_transaction_valid_against_the_schema():
    payload = smart.ocpp201_set_charging_profile(
        evse_id=2, transaction_id="tx-9", profile_id=7, steps=STEPS, start=NOW, unit="W"
    )
    assert framing.schema_problem(framing.CALL, "SetChargingProfile", payload, "2.0.1", "m") is None
    assert payload["evseId"] == 2 and payload["chargingProfile"]["transactionId"] == "tx-9"
    periods = payload["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"]
    assert [p["limit"] for p in periods] == [Decimal(11000), Decimal(4600)]


def test_a_profile_is_cut_at_the_chargers_period_limit():
    steps = tuple(PowerStep(NOW + timedelta(minutes=15 * i), Decimal(i % 2 + 1)) for i in range(40))
    payload = smart.ocpp16_set_charging_profile(
        connector_id=1, transaction_id=1, profile_id=1, steps=steps, start=NOW, unit="W"
    )
    assert (
        len(payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"]) == smart.MAX_PERIODS
    )


def test_a_plan_that_only_moved_with_time_is_not_a_change():
    later = NOW + timedelta(seconds=40)
    moved = tuple(PowerStep(s.starts_at + timedelta(seconds=40), s.limit_kw) for s in STEPS)
    assert not smart.limits_changed(STEPS, moved, later)
    lower = (PowerStep(later, Decimal("7.4")), PowerStep(later + timedelta(hours=2), Decimal("4.6")))
    assert smart.limits_changed(STEPS, lower, later)
    much_later = tuple(PowerStep(s.starts_at + timedelta(hours=1), s.limit_kw) for s in STEPS)
    assert smart.limits_changed(STEPS, much_later, NOW)


def test_drift_is_a_clear_gap_between_allowed_and_delivered_energy():
    allowed = smart.allowed_kwh(STEPS, NOW, NOW + timedelta(hours=1))
    assert allowed == Decimal(11)
    assert smart.drifted(allowed, Decimal(4))  # the car took far less: replan
    assert not smart.drifted(allowed, Decimal("10.5"))  # within a kWh: no replan
    assert not smart.drifted(Decimal("0.5"), Decimal(0))  # a tiny plan is not replanned


def test_refusals_back_off_and_then_give_up():
    assert [smart.retry_delay(n) for n in range(1, smart.MAX_ATTEMPTS + 1)] == [
        timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4), timedelta(minutes=8), None,
    ]  # fmt: skip
    profile = ProfileState(status="pending", message_id="m", sent_at=NOW)
    for _ in range(smart.MAX_ATTEMPTS):
        profile = refused(profile, "charger answered Rejected", NOW)
    assert profile.status == "rejected" and profile.next_retry_at is None
    assert profile.reason == f"charger answered Rejected; gave up after {smart.MAX_ATTEMPTS} attempts"


def test_a_chargers_answer_reads_as_accepted_or_rejected_with_its_reason():
    accepted = framing.Response(framing.CALL_RESULT, "m", [{"status": "Accepted"}])
    rejected = framing.Response(
        framing.CALL_RESULT, "m", [{"status": "Rejected", "statusInfo": {"reasonCode": "TxNotFound"}}]
    )
    error = framing.Response(framing.CALL_ERROR, "m", ["NotSupported", "no smart charging", {}])
    assert answer_of(accepted) == ("accepted", None)
    assert answer_of(rejected) == ("rejected", "charger answered Rejected (TxNotFound)")
    assert answer_of(error) == ("rejected", "CallError NotSupported: no smart charging")

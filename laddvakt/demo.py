"""`laddvakt demo`: the whole system on this machine, driven through a compressed day of charging.

Starts the local stack, imports `examples/registry.json` (2 fleets, 3 sites, 10 chargers, 15
vehicles), lets simulated OCPP 1.6 chargers play a day over MQTT, waits until every finished
session is invoiced, checks each invoice against energy × tariff, and prints a summary with the
fleet status read through the fleet API. Invoices are copied to `./out/invoices/`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from laddvakt.demo_depot import print_depot, run_depot
from laddvakt.simulator import ChargerScript, PlannedSession, PlayedSession, SimulatedCharger, plan_day
from shared.adapters.invoice_bucket import InvoiceBucket
from shared.adapters.registry_table import RegistryTable
from shared.models.billing_documents import InvoiceFile
from shared.models.registry import RegistryDocument

EXAMPLE_REGISTRY = Path(__file__).resolve().parent.parent / "examples" / "registry.json"
CENT = Decimal("0.01")
# How long the cars still plugged in have been charging when the fleet app looks.
LIVE_FOR = timedelta(minutes=40)
STOCKHOLM = ZoneInfo("Europe/Stockholm")


class Progress:
    """One line that rewrites itself on a terminal, and plain periodic lines elsewhere (CI logs)."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label, self.done = total, label, 0
        self._lock = threading.Lock()
        self._tty = sys.stdout.isatty()
        self._last = 0.0

    def tick(self, n: int = 1) -> None:
        with self._lock:
            self.done += n
            now = time.monotonic()
            if now - self._last < (0.2 if self._tty else 5.0) and self.done < self.total:
                return
            self._last = now
            line = f"  {self.label}: {self.done}/{self.total} ({100 * self.done // max(self.total, 1)} %)"
            print(("\r" + line) if self._tty else line, end="" if self._tty else "\n", flush=True)

    def finish(self) -> None:
        if self._tty:
            print()


def _step(text: str) -> None:
    print(f"==> {text}", flush=True)


@dataclass
class FleetAppView:
    """What a fleet app reads the morning after, through the fleet API only."""

    energy_by_vehicle: dict[str, Any]
    utilisation_by_site: dict[str, Any]
    sessions: list[dict[str, Any]]
    invoices: list[dict[str, Any]]
    # GET /sites/{site_id}/availability of the sites where a car is plugged in now.
    availability: list[dict[str, Any]]


@dataclass
class DemoResult:
    played: list[PlayedSession]
    invoices: list[InvoiceFile]
    mismatches: list[str]
    fleet_status: dict[str, dict[str, Any]]
    fleet_app: dict[str, FleetAppView]
    rejected_frames: int
    out_dir: Path
    peppol: str


def _expected_gross(energy_wh: int, price: Decimal, vat_percent: Decimal) -> Decimal:
    kwh = (Decimal(energy_wh) / 1000).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
    net = (kwh * price).quantize(CENT, rounding=ROUND_HALF_UP)
    return net + (net * vat_percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def _api_get(url: str, token: str) -> dict[str, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        body: dict[str, Any] = json.load(response)
    return body


def _api_put(url: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="PUT",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.load(response)
    return answer


def declare_departures(stack: Any, document: RegistryDocument, played: list[PlayedSession]) -> None:
    """A fleet manager says when one plugged-in car of each fleet leaves (tomorrow 07:00): its
    departure estimate then rests on that, the others' on what is known of them."""
    fleet_of_vehicle = {v.id: v.fleet_id for v in document.vehicles}
    tomorrow = (datetime.now(STOCKHOLM) + timedelta(days=1)).date()
    leaves = datetime.combine(tomorrow, datetime.min.time(), STOCKHOLM) + timedelta(hours=7)
    declared: set[str] = set()
    for session in played:
        vehicle = session.plan.vehicle_id
        if session.plan.departure is not None or not session.accepted or vehicle is None:
            continue
        fleet_id = fleet_of_vehicle[vehicle]
        if fleet_id in declared:
            continue
        declared.add(fleet_id)
        _api_put(
            f"{stack.api_url}/vehicles/{vehicle}/charging-needs",
            stack.issue_token(fleet_id, ["fleet_manager"]),
            {"departure_at": leaves.isoformat()},
        )


def drive_day(stack: Any, document: RegistryDocument, seed: int) -> list[PlayedSession]:
    """Every charger plays its part in its own thread, as real chargers would."""
    zone = ZoneInfo("Europe/Stockholm")
    day = (datetime.now(zone) - timedelta(days=1)).date()
    plan = plan_day(document, day, seed=seed)
    first = document.chargers[0]
    # A blocked card tries too: it must be refused and never billed.
    plan.sessions.append(
        PlannedSession(
            charge_point_id=first.id,
            connector_id=1,
            id_tag="RFID-BLOCKED",
            vehicle_id=None,
            arrival=datetime.combine(day, datetime.min.time(), zone) + timedelta(hours=5),
            departure=datetime.combine(day, datetime.min.time(), zone) + timedelta(hours=5, minutes=30),
            battery_kwh=Decimal(60),
            soc_start=Decimal(50),
            max_power_kw=first.max_power_kw,
        )
    )
    # The cars still plugged in arrived this evening and charge now, so the fleet app shows their
    # estimates live: readings (SoC, power) up to now.
    now = datetime.now(UTC).replace(microsecond=0)
    for session in plan.sessions:
        if session.departure is None:
            session.arrival, session.readings_until = now - LIVE_FOR, now
    frames = sum(3 + int((s.readings_end - s.arrival) / timedelta(minutes=15)) for s in plan.sessions)
    _step(
        f"{len(document.chargers)} simulated OCPP 1.6 chargers play {day} "
        f"({len(plan.sessions)} visits, ~{frames} transaction frames) over MQTT"
    )
    progress = Progress(frames, "transaction frames answered")
    played: list[PlayedSession] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    rng = random.Random(seed)

    def run(charger_id: str, connectors: int, plans: list[PlannedSession]) -> None:
        try:
            charger = SimulatedCharger(charger_id, stack.mqtt_host, stack.mqtt_port)
            try:
                script = ChargerScript(charger, plans, random.Random(rng.random()))
                script.boot(datetime.combine(day, datetime.min.time(), zone), connectors)
                for raw in plan.bad_frames.get(charger_id, []):
                    # Malformed frames: answered where they carry a message id, and kept.
                    try:
                        message_id = json.loads(raw)[1]
                    except ValueError:
                        message_id = None
                    charger.send_raw(raw, message_id)
                for session in script.plans:
                    result = script.play(session, progress.tick)
                    with lock:
                        played.append(result)
            finally:
                charger.close()
        except BaseException as exc:  # reported after the other chargers finish
            with lock:
                errors.append(exc)

    by_charger: dict[str, list[PlannedSession]] = defaultdict(list)
    for session in plan.sessions:
        by_charger[session.charge_point_id].append(session)
    threads = [
        threading.Thread(target=run, args=(c.id, c.connectors, by_charger.get(c.id, [])), daemon=True)
        for c in document.chargers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    progress.finish()
    if errors:
        raise RuntimeError(f"{len(errors)} simulated charger(s) failed; first: {errors[0]!r}") from errors[0]
    return played


def wait_until_invoiced(stack: Any, played: list[PlayedSession], timeout: float = 120.0) -> None:
    closed = {
        f"{p.plan.charge_point_id}:{p.transaction_id}"
        for p in played
        if p.accepted and p.meter_stop_wh is not None
    }
    _step(f"waiting for the close-and-invoice workflow of {len(closed)} finished sessions")
    table = stack.table(stack.names["sessions_table"])
    progress = Progress(len(closed), "sessions invoiced")
    deadline = time.monotonic() + timeout
    seen: set[str] = set()
    while True:
        statuses = {}
        for item in _scan(table, "session_id, sk, #s", {"#s": "status"}):
            if item["sk"] == "SESSION":
                statuses[item["session_id"]] = item["status"]
        done = {sid for sid in closed if statuses.get(sid) == "invoiced"}
        progress.tick(len(done - seen))
        seen |= done
        if done == closed:
            progress.finish()
            return
        if time.monotonic() > deadline:
            progress.finish()
            missing = sorted(closed - done)
            raise TimeoutError(f"{len(missing)} sessions not invoiced after {timeout:.0f} s: {missing[:5]}")
        time.sleep(0.5)


def _scan(table: Any, projection: str, names: dict[str, str] | None = None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"ProjectionExpression": projection}
    if names:
        kwargs["ExpressionAttributeNames"] = names
    while True:
        page = table.scan(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def collect(stack: Any, document: RegistryDocument, played: list[PlayedSession], out: Path) -> DemoResult:
    bucket = InvoiceBucket(stack.names["invoice_bucket"], s3=stack.client("s3"))
    invoices_dir = out / "invoices"
    invoices: list[InvoiceFile] = []
    for key in sorted(bucket.keys()):
        # Every form of every invoice (JSON, Peppol UBL XML, PDF), as finance would fetch them.
        body = bucket.get(key)
        target = invoices_dir / key.removeprefix("invoices/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        if key.endswith(".json"):
            invoices.append(bucket.get_invoice(key))
    by_id = {inv.session.session_id: inv for inv in invoices}
    sites = {s.id: s for s in document.sites}
    site_of = {c.id: c.site_id for c in document.chargers}
    mismatches: list[str] = []
    for session in played:
        if not session.accepted or session.energy_wh is None:
            continue
        session_id = f"{session.plan.charge_point_id}:{session.transaction_id}"
        billed = by_id.get(session_id)
        tariff = sites[site_of[session.plan.charge_point_id]].tariff
        if billed is None:
            mismatches.append(f"{session_id}: no invoice")
            continue
        if tariff is None:
            continue  # an OCPI tariff: its own tests price it; the demo checks flat prices by hand
        expected = _expected_gross(session.energy_wh, tariff.energy_price_per_kwh, tariff.vat_rate_percent)
        gross = billed.document.totals.tax_inclusive_total
        if gross != expected:
            mismatches.append(f"{session_id}: invoice {gross} != energy × tariff {expected}")
    unbilled = [
        p for p in played if not p.accepted and f"{p.plan.charge_point_id}:{p.transaction_id}" in by_id
    ]
    mismatches += [f"refused card billed: {p.plan.id_tag}" for p in unbilled]
    status = {
        fleet.id: _api_get(f"{stack.api_url}/fleet/status", stack.issue_token(fleet.id, ["fleet_manager"]))
        for fleet in document.fleets
    }
    day = min((p.plan.arrival for p in played), default=datetime.now(UTC)).date().isoformat()
    busy_sites = {
        fleet_id: sorted({v["charge_point_id"] for v in s["vehicles"] if v["state"] != "away"})
        for fleet_id, s in status.items()
    }
    site_of_charger = {c.id: c.site_id for c in document.chargers}
    fleet_app = {
        fleet.id: _fleet_app_view(
            stack, fleet.id, day, sorted({site_of_charger[cp] for cp in busy_sites[fleet.id]})
        )
        for fleet in document.fleets
    }
    rejected = len(_scan(stack.table(stack.names["rejected_frames_table"]), "charge_point_id"))
    peppol = _peppol_check(sorted(invoices_dir.rglob("*.xml")))
    return DemoResult(played, invoices, mismatches, status, fleet_app, rejected, invoices_dir, peppol)


def _fleet_app_view(stack: Any, fleet_id: str, day: str, busy_sites: list[str]) -> FleetAppView:
    manager = stack.issue_token(fleet_id, ["fleet_manager"])
    finance = stack.issue_token(fleet_id, ["finance"])
    api = stack.api_url
    return FleetAppView(
        energy_by_vehicle=_api_get(f"{api}/analytics/energy?from={day}&to={day}&group_by=vehicle", manager),
        utilisation_by_site=_api_get(
            f"{api}/analytics/utilisation?from={day}&to={day}&group_by=site", manager
        ),
        sessions=_api_get(f"{api}/sessions?from={day}&to={day}&limit=100", manager)["sessions"],
        invoices=_api_get(f"{api}/invoices?limit=100", finance)["invoices"],
        availability=[_api_get(f"{api}/sites/{site}/availability", manager) for site in busy_sites],
    )


def wait_until_workflows_end(stack: Any, timeout: float = 120.0) -> None:
    """Invoiced is not the end: the workflow's last step adds each session to the analytics."""
    sfn = stack.boto3_client("stepfunctions")
    arn = stack.names["billing_state_machine"]
    deadline = time.monotonic() + timeout
    while sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]:
        if time.monotonic() > deadline:
            raise TimeoutError(f"close-and-invoice executions still running after {timeout:.0f} s")
        time.sleep(0.5)


def _peppol_check(files: list[Path]) -> str:
    """Every e-invoice against the official EN 16931 and Peppol BIS 3 rules, as an access point would."""
    from laddvakt.peppol import PeppolValidator, RulesMissing

    try:
        validator = PeppolValidator()
    except RulesMissing as exc:
        return f"not checked: {exc}"
    failed = [f.name for f in files if not validator.validate(f.read_bytes()).passed]
    if failed:
        return f"{len(failed)} of {len(files)} FAIL: {', '.join(failed[:5])} (python -m laddvakt.peppol FILE)"
    return f"all {len(files)} pass"


def _share(value: str | None) -> str:
    return "—" if value is None else f"{Decimal(value) * 100:.0f} %"


def _local(at: str | None) -> str:
    return "—" if at is None else datetime.fromisoformat(at).astimezone(STOCKHOLM).strftime("%H:%M")


def _charge_complete_line(estimate: dict[str, Any] | None) -> str:
    if estimate is None:
        return "charge complete: —"
    if estimate["done"]:
        return f"charging complete since {_local(estimate['at'])} ({estimate['basis']})"
    if estimate["at"] is None:
        return f"charge complete: cannot say ({estimate['basis']}; missing: {', '.join(estimate['missing'])})"
    return f"charge complete ~{_local(estimate['at'])}, {estimate['confidence']} confidence ({estimate['basis']})"


def _departure_line(estimate: dict[str, Any] | None) -> str:
    if estimate is None:
        return "leaves: not known yet (no declared departure, too few past visits)"
    return (
        f"leaves ~{_local(estimate['p50_at'])} (P10–P90 {_local(estimate['p10_at'])}–{_local(estimate['p90_at'])}), "
        f"{estimate['confidence']} confidence ({estimate['basis']})"
    )


def _availability_line(answer: dict[str, Any]) -> str:
    total = len(answer["connectors"])
    if answer["free_now"]:
        return f"{answer['free_now']} of {total} connectors free now"
    if answer["next_free_at"] is None:
        return f"all {total} connectors taken; when one frees up is not known"
    return (
        f"all {total} connectors taken; next free ~{_local(answer['next_free_at'])} "
        f"(P10–P90 {_local(answer['next_free_from'])}–{_local(answer['next_free_by'])})"
    )


def print_summary(result: DemoResult, document: RegistryDocument) -> None:
    fleets = {f.id: f for f in document.fleets}
    print()
    print("Laddvakt demo — a simulated day of charging, invoiced")
    print("=" * 78)
    print(f"{'fleet':<24}{'sessions':>9}{'open':>6}{'energy kWh':>12}{'net':>11}{'VAT':>10}{'total':>11}")
    totals: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for invoice in result.invoices:
        t = totals[invoice.session.fleet_id]
        t["sessions"] += 1
        t["energy"] += invoice.session.energy_kwh
        t["net"] += invoice.document.totals.tax_exclusive_total
        t["vat"] += invoice.document.totals.vat_total
        t["gross"] += invoice.document.totals.tax_inclusive_total
    open_by_fleet: dict[str, int] = defaultdict(int)
    for fleet_id, status in result.fleet_status.items():
        open_by_fleet[fleet_id] = sum(1 for v in status["vehicles"] if v["state"] != "away")
    currency = result.invoices[0].document.currency if result.invoices else "SEK"
    for fleet_id, fleet in fleets.items():
        t = totals[fleet_id]
        print(
            f"{fleet.name:<24}{int(t['sessions']):>9}{open_by_fleet[fleet_id]:>6}{t['energy']:>12.3f}"
            f"{t['net']:>11.2f}{t['vat']:>10.2f}{t['gross']:>11.2f}"
        )
    print(f"{'(amounts in ' + currency + ')':<24}")
    print()
    checked = len(result.invoices)
    verdict = "all match" if not result.mismatches else f"{len(result.mismatches)} MISMATCH(ES)"
    print(f"Invoices checked against metered energy × site tariff: {checked} — {verdict}")
    for line in result.mismatches:
        print(f"  ✗ {line}")
    refused = [p for p in result.played if not p.accepted]
    print(f"E-invoices checked against the official EN 16931 and Peppol BIS 3 rules: {result.peppol}")
    print(f"Refused cards (never billed): {', '.join(sorted({p.plan.id_tag for p in refused})) or 'none'}")
    print(
        f"Bad frames answered with a CallError and kept for inspection: {result.rejected_frames} "
        f"(see `laddvakt frames rejected` while `laddvakt up` runs)"
    )
    print()
    print("Fleet status from the fleet API (GET /fleet/status):")
    for fleet_id, status in result.fleet_status.items():
        counts = status["counts"]
        vehicles = ", ".join(f"{n} {state}" for state, n in sorted(counts["vehicles"].items()))
        chargers = ", ".join(f"{n} {state}" for state, n in sorted(counts["chargers"].items()))
        print(f"  {fleets[fleet_id].name}: vehicles {vehicles}; chargers {chargers}")
        for vehicle in status["vehicles"]:
            if vehicle["state"] != "away":
                print(
                    f"    {vehicle['vehicle_id']} ({vehicle['name']}) {vehicle['state']} at "
                    f"{vehicle['charge_point_id']}: {vehicle['power_kw']} kW, {vehicle['energy_kwh']} kWh so far, "
                    f"SoC {vehicle['soc_percent']} %"
                )
                print(f"      {_charge_complete_line(vehicle['charge_complete'])}")
                print(f"      {_departure_line(vehicle['departure'])}")
    print()
    print("The fleet app's view of the day, through the fleet API alone:")
    for fleet_id, view in result.fleet_app.items():
        status = result.fleet_status[fleet_id]
        attention = status["chargers_needing_attention"]
        print(f"  {fleets[fleet_id].name}")
        print(
            f"    GET /sessions: {len(view.sessions)} sessions started that day; "
            f"GET /invoices (finance): {len(view.invoices)} invoices; "
            f"chargers needing attention: {', '.join(c['charge_point_id'] + ' ' + c['state'] for c in attention) or 'none'}"
        )
        rows = sorted(view.energy_by_vehicle["rows"], key=lambda r: Decimal(r["energy_kwh"]), reverse=True)
        for row in rows[:3]:
            cost = ", ".join(f"{Decimal(c['gross']).quantize(CENT)} {c['currency']}" for c in row["costs"])
            print(
                f"    GET /analytics/energy: {row['key'] or '(no vehicle)'}: {row['energy_kwh']} kWh, {cost}"
            )
        for answer in view.availability:
            print(f"    GET /sites/{answer['site_id']}/availability: {_availability_line(answer)}")
        for row in view.utilisation_by_site["rows"]:
            print(
                f"    GET /analytics/utilisation: {row['key']}: occupied {_share(row['occupied_share'])}, "
                f"charging {_share(row['charging_share'])}, idle while plugged in {_share(row['idle_share'])}"
            )
    print()
    print(
        f"Invoices (JSON, PDF, Peppol UBL XML) copied to {result.out_dir}/ — e.g. "
        f"{next(iter(sorted(result.out_dir.rglob('*.json'))), '(none)')}"
    )


def run_demo(args: argparse.Namespace) -> int:
    from laddvakt.local.stack import LocalStack, ports_from_args

    started = time.monotonic()
    document = RegistryDocument.model_validate_json(EXAMPLE_REGISTRY.read_text())
    _step("starting the local stack (moto, MQTT broker, IoT rule bridge, fleet API)")
    with LocalStack(ports_from_args(args), Path(args.state_dir)) as stack:
        _step(
            f"importing {EXAMPLE_REGISTRY.name}: {len(document.fleets)} fleets, {len(document.sites)} sites, "
            f"{len(document.chargers)} chargers, {len(document.vehicles)} vehicles"
        )
        RegistryTable(
            stack.names["registry_table"], table=stack.table(stack.names["registry_table"])
        ).import_document(document)
        played = drive_day(stack, document, args.seed)
        wait_until_invoiced(stack, played)
        wait_until_workflows_end(stack)
        declare_departures(stack, document, played)
        result = collect(stack, document, played, Path(args.out))
        depot = run_depot(stack, document, played)
    print_summary(result, document)
    print_depot(depot)
    print(f"Done in {time.monotonic() - started:.0f} s.")
    return 1 if result.mismatches or "FAIL" in result.peppol else 0

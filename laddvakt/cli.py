"""The `laddvakt` command: run the local stack, the demo, and operate a deployment."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from laddvakt.target import DEFAULT_STATE_DIR, NoTarget, resolve
from shared.domain.errors import LaddvaktError


def _registry_import(args: argparse.Namespace) -> int:
    """Import JSON documents and CSV files together: all checked first, then all written, or none."""
    from typing import cast

    from laddvakt.registry_import import read_files, site_fleets, unresolved
    from shared.adapters.registry_table import RecordKind, RegistryTable

    files = [Path(name) for name in args.files]
    batch = read_files(files, args.kind)
    try:
        target = resolve(args.stack, Path(args.state_dir))
    except NoTarget:
        if not batch.problems:
            raise
        # The files alone are wrong already: say so, though references went unchecked.
        return _refused(files, batch.problems, note="references were not checked: no running stack")
    registry = RegistryTable(target.registry_table, table=target.table(target.registry_table))

    def fleet_of(kind: str, record_id: str) -> str | None:
        record = registry.record(cast(RecordKind, kind), record_id)
        if record is None:
            return None
        return record_id if kind == "fleet" else record.get("fleet_id")

    problems = batch.problems + unresolved(batch, fleet_of)
    if problems:
        return _refused(files, problems)
    counts = registry.import_records(batch.records(), site_fleets(batch, fleet_of))
    print(
        "imported "
        + ", ".join(f"{n} {kind}" for kind, n in counts.items())
        + f" into {target.registry_table}"
    )
    return 0


def _refused(files: list[Path], problems: list[str], note: str | None = None) -> int:
    names = ", ".join(str(f) for f in files)
    print(f"{names}: refused, nothing was written ({len(problems)} problem(s)):", file=sys.stderr)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    if note:
        print(f"  ({note})", file=sys.stderr)
    return 2


def _token(args: argparse.Namespace) -> int:
    from laddvakt.local.auth import issue_token

    print(issue_token(args.fleet, groups=args.group or ["fleet_manager"], state_dir=Path(args.state_dir)))
    return 0


def _frames_rejected(args: argparse.Namespace) -> int:
    from shared.adapters.rejected_frames_table import RejectedFramesTable

    target = resolve(args.stack, Path(args.state_dir))
    table = RejectedFramesTable(
        target.rejected_frames_table, table=target.table(target.rejected_frames_table)
    )
    items = table.for_charger(args.charger) if args.charger else table.all()
    for item in items:
        print(json.dumps({k: v for k, v in item.items() if k != "expires_at"}, default=str))
    print(f"{len(items)} rejected frame(s)", file=sys.stderr)
    return 0


def _sessions_held(args: argparse.Namespace) -> int:
    from shared.adapters.sessions_table import SessionsTable
    from shared.operations import held_sessions

    target = resolve(args.stack, Path(args.state_dir))
    held = held_sessions(SessionsTable(target.sessions_table, table=target.table(target.sessions_table)))
    for session in held:
        print(
            f"{session.session_id}  {session.started_at:%Y-%m-%d %H:%M}Z  fleet {session.fleet_id}: {session.hold_reason}"
        )
    print(f"{len(held)} held session(s)", file=sys.stderr)
    return 0


def _sessions_release(args: argparse.Namespace) -> int:
    from decimal import Decimal

    from shared.adapters.billing_workflow import BillingWorkflow
    from shared.adapters.sessions_table import SessionsTable
    from shared.operations import release

    target = resolve(args.stack, Path(args.state_dir))
    energy = None if args.accept else Decimal(args.energy_kwh) * 1000
    released = release(
        SessionsTable(target.sessions_table, table=target.table(target.sessions_table)),
        BillingWorkflow(target.billing_state_machine_arn, sfn=target.client("stepfunctions")),
        args.session_id,
        energy_wh=energy,
        reason=args.reason,
    )
    what = "the measured energy" if energy is None else f"{args.energy_kwh} kWh"
    print(f"released {released.session_id} at {what}; a new close-and-invoice run has started")
    return 0


def _sessions_correct(args: argparse.Namespace) -> int:
    from decimal import Decimal

    from shared.adapters.billing_workflow import BillingWorkflow
    from shared.adapters.sessions_table import SessionsTable
    from shared.operations import correct

    target = resolve(args.stack, Path(args.state_dir))
    energy = Decimal(args.energy_kwh) * 1000 if args.energy_kwh is not None else None
    reopened = correct(
        SessionsTable(target.sessions_table, table=target.table(target.sessions_table)),
        BillingWorkflow(target.billing_state_machine_arn, sfn=target.client("stepfunctions")),
        args.session_id,
        reason=args.reason,
        energy_wh=energy,
    )
    print(
        f"correcting {reopened.session_id} (correction {reopened.correction_attempt}): its invoice is being "
        "credited and a new one written"
    )
    return 0


def _sessions_index(args: argparse.Namespace) -> int:
    from shared.adapters.sessions_table import SessionsTable

    target = resolve(args.stack, Path(args.state_dir))
    changed = SessionsTable(
        target.sessions_table, table=target.table(target.sessions_table)
    ).add_listing_keys()
    print(f"{changed} session(s) given their vehicle and charger listing keys")
    return 0


def _replay(args: argparse.Namespace) -> int:
    from datetime import UTC, date, datetime

    from shared.adapters.ledger_bucket import LedgerBucket
    from shared.adapters.registry_table import RegistryTable
    from shared.adapters.sessions_table import SessionsTable, create_like
    from shared.replay import ledger_prefixes, replay

    target = resolve(args.stack, Path(args.state_dir))
    first, last = date.fromisoformat(args.from_date), date.fromisoformat(args.to_date)
    if last < first:
        raise ValueError("--to is before --from")
    into = args.into or f"{target.sessions_table}-replay-{datetime.now(UTC):%Y%m%d%H%M%S}"
    if into == target.sessions_table:
        raise ValueError("a replay never writes into the live sessions table; name another with --into")
    if not args.into:
        create_like(target.client("dynamodb"), target.sessions_table, into)
    frames = LedgerBucket(target.ledger_bucket, s3=target.client("s3")).frames(
        ledger_prefixes(first, last, args.charger)
    )
    print(f"replaying {len(frames)} archived frames ({first} to {last}) into {into}", file=sys.stderr)
    report = replay(
        frames,
        RegistryTable(target.registry_table, table=target.table(target.registry_table)),
        SessionsTable(into, table=target.table(into)),
    )
    summary = {
        "table": into,
        "frames": report.frames,
        "sessions_closed": len(report.sessions_closed),
        "problems": report.problems,
    }
    print(json.dumps(summary, indent=2))
    return 0


def _tariffs_import(args: argparse.Namespace) -> int:
    """Store OCPI tariffs: one Tariff object, a list of them, or an OCPI response ({"data": [...]})."""
    from shared.adapters.registry_table import RegistryTable
    from shared.models.ocpi import OcpiInputError, load_json, parse_tariff

    try:
        data = load_json(Path(args.file).read_bytes())
    except OSError as exc:
        print(f"laddvakt: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"{args.file}: refused, not JSON: {exc}", file=sys.stderr)
        return 2
    if isinstance(data, dict) and "data" in data:
        data = data["data"]
    documents = data if isinstance(data, list) else [data]
    tariffs = []
    for index, document in enumerate(documents):
        try:
            tariffs.append(parse_tariff(document))
        except OcpiInputError as exc:
            # Nothing is stored unless every tariff in the file is sound.
            print(f"{args.file}: tariff [{index}] refused, nothing was written:", file=sys.stderr)
            for where, reason in exc.problems:
                print(f"  {where}: {reason}", file=sys.stderr)
            return 2
    missing = [i for i, t in enumerate(tariffs) if t.last_updated is None]
    if missing:
        print(
            f"{args.file}: tariff {missing} has no last_updated, which keeps its versions apart",
            file=sys.stderr,
        )
        return 2
    target = resolve(args.stack, Path(args.state_dir))
    registry = RegistryTable(target.registry_table, table=target.table(target.registry_table))
    for tariff in tariffs:
        what = "stored" if registry.put_tariff(tariff) else "already stored"
        print(f"tariff {tariff.id} version {tariff.last_updated}: {what}")
    return 0


def _invoices_export(args: argparse.Namespace) -> int:
    """A month's invoices and credit notes for the books: the CSV and every form, copied locally."""
    import re

    from shared.adapters.invoice_bucket import InvoiceBucket
    from shared.adapters.registry_table import RegistryTable
    from shared.domain.accounting import month_csv
    from shared.domain.invoicing import INVOICE_PREFIX

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", args.month):
        print(f"laddvakt: --month {args.month!r} is not YYYY-MM", file=sys.stderr)
        return 2
    target = resolve(args.stack, Path(args.state_dir))
    seller = (
        args.seller
        or RegistryTable(target.registry_table, table=target.table(target.registry_table)).operator().id
    )
    bucket = InvoiceBucket(target.invoice_bucket, s3=target.client("s3"))
    year, month = args.month.split("-")
    prefix = f"{INVOICE_PREFIX}/{seller}/{year}/{month}/"
    out = Path(args.out) / args.month
    out.mkdir(parents=True, exist_ok=True)
    files = []
    keys = bucket.keys(prefix)
    for key in keys:
        body = bucket.get(key)
        (out / key.removeprefix(prefix)).write_bytes(body)
        if key.endswith(".json"):
            files.append(bucket.get_invoice(key))
    (out / "invoices.csv").write_text(month_csv(files), encoding="utf-8")
    print(
        f"{len(files)} documents ({len(keys)} files) of {args.month} for seller {seller} in {out}/, with invoices.csv"
    )
    return 0


def _statements_run(args: argparse.Namespace) -> int:
    """Start a month's statements now (the schedule does it on the 1st): one fleet, or every
    fleet billed monthly."""
    import re

    from shared.adapters.billing_workflow import StatementWorkflow
    from shared.adapters.registry_table import RegistryTable

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", args.month):
        print(f"laddvakt: --month {args.month!r} is not YYYY-MM", file=sys.stderr)
        return 2
    target = resolve(args.stack, Path(args.state_dir))
    registry = RegistryTable(target.registry_table, table=target.table(target.registry_table))
    fleets = (
        [args.fleet]
        if args.fleet
        else [f for f in registry.fleet_ids() if registry.fleet(f).invoicing == "monthly"]
    )
    workflow = StatementWorkflow(target.statement_state_machine_arn, sfn=target.client("stepfunctions"))
    for fleet_id in fleets:
        workflow.start(fleet_id, args.month)
        print(f"started the {args.month} statement of {fleet_id}")
    if not fleets:
        print("no fleet is billed monthly (set `invoicing: monthly` on a fleet in the registry)")
    return 0


def _tariffs_list(args: argparse.Namespace) -> int:
    from shared.adapters.registry_table import RegistryTable

    target = resolve(args.stack, Path(args.state_dir))
    registry = RegistryTable(target.registry_table, table=target.table(target.registry_table))
    for tariff_id in registry.tariff_ids():
        versions = registry.tariff_versions(tariff_id)
        dates = ", ".join(v.last_updated.isoformat() for v in versions if v.last_updated)
        print(f"{tariff_id}  {versions[-1].currency}  {len(versions)} version(s): {dates}")
    return 0


def _price(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from shared.domain.tariffs import priced_cdr
    from shared.models.ocpi import OcpiInputError, parse_cdr, parse_tariff, to_json

    try:
        tariff = parse_tariff(Path(args.tariff).read_bytes())
        if args.check:
            print(
                f"{args.tariff}: tariff {tariff.id} is valid ({len(tariff.elements)} elements, {tariff.currency})"
            )
            return 0
        try:
            zone = ZoneInfo(args.tz)
        except (ZoneInfoNotFoundError, ValueError):
            print(f"laddvakt: --tz {args.tz!r} is not an IANA time zone", file=sys.stderr)
            return 2
        cdr = parse_cdr(Path(args.cdr).read_bytes())
        print(to_json(priced_cdr(cdr, tariff, zone)))
    except OcpiInputError as exc:
        source = args.tariff if exc.what == "tariff" else args.cdr
        print(f"{source}: {exc.what} refused:", file=sys.stderr)
        for where, reason in exc.problems:
            print(f"  {where}: {reason}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"laddvakt: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    return 0


def _events_tail(args: argparse.Namespace) -> int:
    from laddvakt.local.event_tap import tail
    from laddvakt.target import local_target

    target = local_target(Path(args.state_dir))
    if target.fleet_events_tap_queue is None:
        raise NoTarget(
            "this local stack has no fleet event tap: restart it with this version (`laddvakt up`)"
        )
    print(f"live fleet events of {args.fleet or 'every fleet'} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    shown = tail(
        target.client("sqs"),
        target.fleet_events_tap_queue,
        fleet_id=args.fleet,
        as_json=args.json,
        count=args.count,
        idle_seconds=args.idle_timeout,
        write=lambda line: print(line, flush=True),
    )
    print(f"{shown} event(s)", file=sys.stderr)
    return 0


def _up(args: argparse.Namespace) -> int:
    from laddvakt.local.stack import run_up

    return run_up(args)


def _demo(args: argparse.Namespace) -> int:
    from laddvakt.demo import run_demo

    return run_demo(args)


def _eval_departure(args: argparse.Namespace) -> int:
    from laddvakt.departure_eval import main as evaluate

    return evaluate(final=args.final, command="laddvakt eval departure" + (" --final" if args.final else ""))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="laddvakt", description=__doc__)
    parser.add_argument(
        "--state-dir", default=str(DEFAULT_STATE_DIR), help="local stack state (default .laddvakt)"
    )
    # The same option after a subcommand too: `laddvakt demo --state-dir X` works as expected.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--state-dir", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True)

    def command(group: Any, name: str, help_text: str) -> argparse.ArgumentParser:
        created: argparse.ArgumentParser = group.add_parser(name, parents=[common], help=help_text)
        return created

    from laddvakt.local.stack import add_up_arguments

    up = command(commands, "up", "run the whole system locally until Ctrl-C")
    add_up_arguments(up)
    up.set_defaults(func=_up)

    demo = command(commands, "demo", "start the local stack and drive a simulated day of charging")
    demo.add_argument("--out", default="out", help="where invoices are copied (default ./out)")
    demo.add_argument("--seed", type=int, default=7, help="random seed of the simulated day")
    add_up_arguments(demo)
    demo.set_defaults(func=_demo)

    registry = commands.add_parser("registry", help="the registry of fleets, sites, chargers and tokens")
    registry_commands = registry.add_subparsers(dest="registry_command", required=True)
    load = command(
        registry_commands,
        "import",
        "import registry JSON documents and CSV files together (docs/registry.md)",
    )
    load.add_argument("files", nargs="+", metavar="FILE", help="a .json document or a CSV file of one kind")
    load.add_argument(
        "--kind",
        choices=["fleets", "sites", "chargers", "vehicles", "drivers", "tokens"],
        help="what the CSV files hold (default: from each file's name, e.g. sites.csv)",
    )
    load.add_argument("--stack", help="a deployed CloudFormation stack instead of the local stack")
    load.set_defaults(func=_registry_import)

    token = command(commands, "token", "print a locally signed fleet API token for the local stack")
    token.add_argument("--fleet", required=True)
    token.add_argument("--group", action="append", choices=["fleet_manager", "finance", "admin"])
    token.set_defaults(func=_token)

    sessions = commands.add_parser("sessions", help="sessions an operator decides on: held ones, corrections")
    sessions_commands = sessions.add_subparsers(dest="sessions_command", required=True)
    held = command(sessions_commands, "held", "list held sessions with the reason each is held")
    held.add_argument("--stack", help="a deployed CloudFormation stack instead of the local stack")
    held.set_defaults(func=_sessions_held)
    release_cmd = command(sessions_commands, "release", "bill a held session and start its invoicing")
    release_cmd.add_argument("session_id")
    decision = release_cmd.add_mutually_exclusive_group(required=True)
    decision.add_argument("--accept", action="store_true", help="bill the energy Laddvakt measured")
    decision.add_argument("--energy-kwh", help="bill this energy instead (a decimal, e.g. 41.234)")
    release_cmd.add_argument("--reason", required=True, help="why: kept on the session for finance")
    release_cmd.add_argument("--stack", help="a deployed CloudFormation stack instead of the local stack")
    release_cmd.set_defaults(func=_sessions_release)

    correct_cmd = command(
        sessions_commands, "correct", "credit an invoiced session's invoice and invoice it again, corrected"
    )
    correct_cmd.add_argument("session_id")
    correct_cmd.add_argument(
        "--energy-kwh", help="the energy to bill instead (default: measured, with a late stop)"
    )
    correct_cmd.add_argument("--reason", required=True, help="why: written on the credit note")
    correct_cmd.add_argument("--stack", help="a deployed CloudFormation stack instead of the local stack")
    correct_cmd.set_defaults(func=_sessions_correct)

    index_cmd = command(
        sessions_commands, "index", "give sessions stored before the vehicle and charger lists their keys"
    )
    index_cmd.add_argument("--stack", help="a deployed CloudFormation stack instead of the local stack")
    index_cmd.set_defaults(func=_sessions_index)

    replay_cmd = command(commands, "replay", "rebuild sessions from the raw ledger into a new table")
    replay_cmd.add_argument("--from", dest="from_date", required=True, help="first day (UTC), YYYY-MM-DD")
    replay_cmd.add_argument("--to", dest="to_date", required=True, help="last day (UTC), YYYY-MM-DD")
    replay_cmd.add_argument("--charger", help="only this charger")
    replay_cmd.add_argument(
        "--into", help="an existing table to write into (default: a new one, named in the output)"
    )
    replay_cmd.add_argument("--stack", help="a deployed CloudFormation stack instead of the local stack")
    replay_cmd.set_defaults(func=_replay)

    invoices = commands.add_parser("invoices", help="invoices and credit notes, for finance")
    invoice_commands = invoices.add_subparsers(dest="invoices_command", required=True)
    export = command(
        invoice_commands, "export", "a month's documents and their CSV for the books, copied locally"
    )
    export.add_argument(
        "--month", required=True, help="YYYY-MM: sessions that ended that month, in the site's time zone"
    )
    export.add_argument("--out", default="out/export", help="folder to write into (default out/export)")
    export.add_argument("--seller", help="the seller's id (default: the registry's operator)")
    export.add_argument("--stack", help="a deployed CloudFormation stack instead of the local stack")
    export.set_defaults(func=_invoices_export)

    statements_cmd = commands.add_parser("statements", help="monthly statements of fleets billed monthly")
    statement_commands = statements_cmd.add_subparsers(dest="statements_command", required=True)
    run_statement = command(
        statement_commands, "run", "start a month's statements now (the schedule runs on the 1st)"
    )
    run_statement.add_argument("--month", required=True, help="YYYY-MM")
    run_statement.add_argument("--fleet", help="only this fleet (default: every fleet billed monthly)")
    run_statement.add_argument("--stack", help="a deployed CloudFormation stack instead of the local stack")
    run_statement.set_defaults(func=_statements_run)

    tariffs = commands.add_parser("tariffs", help="OCPI 2.2.1 tariffs, stored by version")
    tariff_commands = tariffs.add_subparsers(dest="tariffs_command", required=True)
    tariff_import = command(tariff_commands, "import", "store the OCPI tariffs of a JSON file (versioned)")
    tariff_import.add_argument(
        "file", help="a Tariff object, a list of them, or an OCPI response {data: [...]}"
    )
    tariff_import.add_argument("--stack", help="a deployed CloudFormation stack instead of the local stack")
    tariff_import.set_defaults(func=_tariffs_import)
    tariff_list = command(tariff_commands, "list", "every stored tariff and its versions")
    tariff_list.add_argument("--stack", help="a deployed CloudFormation stack instead of the local stack")
    tariff_list.set_defaults(func=_tariffs_list)

    price = command(commands, "price", "price an OCPI 2.2.1 CDR's charging periods with a tariff")
    price.add_argument("--tariff", required=True, help="an OCPI 2.2.1 Tariff object (JSON file)")
    what = price.add_mutually_exclusive_group(required=True)
    what.add_argument("--cdr", help="an OCPI 2.2.1 CDR (JSON file): prints it priced, as JSON")
    what.add_argument("--check", action="store_true", help="only validate the tariff")
    price.add_argument("--tz", default="UTC", help="the site's IANA time zone (default UTC)")
    price.set_defaults(func=_price)

    events_cmd = commands.add_parser("events", help="live fleet events (docs/events.md)")
    events_commands = events_cmd.add_subparsers(dest="events_command", required=True)
    tail_cmd = command(events_commands, "tail", "print live fleet events of the local stack as they happen")
    tail_cmd.add_argument("--fleet", help="only this fleet's events (default: every fleet)")
    tail_cmd.add_argument(
        "--json", action="store_true", help="each event as EventBridge delivers it, one per line"
    )
    tail_cmd.add_argument("--count", type=int, help="stop after this many events")
    tail_cmd.add_argument("--idle-timeout", type=float, help="stop when no event came for this many seconds")
    tail_cmd.set_defaults(func=_events_tail)

    evals = commands.add_parser("eval", help="evaluations on real ACN-Data sessions (docs/eval/)")
    eval_commands = evals.add_subparsers(dest="eval_command", required=True)
    departure = command(
        eval_commands,
        "departure",
        "train the departure estimate, export it, and measure it next to baselines (docs/eval/departure.md)",
    )
    departure.add_argument(
        "--final",
        action="store_true",
        help="also read the sealed 2021 test files, for the reported figures only",
    )
    departure.set_defaults(func=_eval_departure)
    schedule = command(
        eval_commands,
        "schedule",
        "replay ACN weeks: the depot planner vs acnportal's algorithms and the LP optimum (docs/eval/schedule.md)",
    )
    schedule.add_argument(
        "--workers", type=int, help="processes to replay the weeks in (default: one per CPU core)"
    )
    schedule.set_defaults(func=_eval_schedule)

    frames = commands.add_parser("frames", help="inbound frames kept for inspection")
    frames_commands = frames.add_subparsers(dest="frames_command", required=True)
    rejected = command(frames_commands, "rejected", "list rejected frames with their reasons")
    rejected.add_argument("--charger")
    rejected.add_argument("--stack", help="a deployed CloudFormation stack instead of the local stack")
    rejected.set_defaults(func=_frames_rejected)
    return parser


def _eval_schedule(args: argparse.Namespace) -> int:
    from laddvakt.schedule_eval import main as evaluate_schedule

    return evaluate_schedule(args.workers)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except NoTarget as exc:
        print(f"laddvakt: {exc}", file=sys.stderr)
        return 2
    except (LaddvaktError, ValueError) as exc:
        print(f"laddvakt: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

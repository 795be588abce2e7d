"""The `laddvakt` command: run the local stack, the demo, and operate a deployment."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from laddvakt.target import DEFAULT_STATE_DIR, NoTarget, resolve
from shared.domain.errors import LaddvaktError


def _registry_import(args: argparse.Namespace) -> int:
    from shared.adapters.registry_table import RegistryTable
    from shared.models.registry import RegistryDocument

    try:
        document = RegistryDocument.model_validate_json(Path(args.file).read_text())
    except ValidationError as exc:
        print(f"{args.file}: refused, nothing was written:", file=sys.stderr)
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "(document)"
            print(f"  {where}: {error['msg']}", file=sys.stderr)
        return 2
    target = resolve(args.stack, Path(args.state_dir))
    counts = RegistryTable(target.registry_table, table=target.table(target.registry_table)).import_document(
        document
    )
    print(
        "imported "
        + ", ".join(f"{n} {kind}" for kind, n in counts.items())
        + f" into {target.registry_table}"
    )
    return 0


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


def _up(args: argparse.Namespace) -> int:
    from laddvakt.local.stack import run_up

    return run_up(args)


def _demo(args: argparse.Namespace) -> int:
    from laddvakt.demo import run_demo

    return run_demo(args)


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
    load = command(registry_commands, "import", "import a registry JSON file (see docs/registry.md)")
    load.add_argument("file")
    load.add_argument("--stack", help="a deployed CloudFormation stack instead of the local stack")
    load.set_defaults(func=_registry_import)

    token = command(commands, "token", "print a locally signed fleet API token for the local stack")
    token.add_argument("--fleet", required=True)
    token.add_argument("--group", action="append", choices=["fleet_manager", "finance", "admin"])
    token.set_defaults(func=_token)

    frames = commands.add_parser("frames", help="inbound frames kept for inspection")
    frames_commands = frames.add_subparsers(dest="frames_command", required=True)
    rejected = command(frames_commands, "rejected", "list rejected frames with their reasons")
    rejected.add_argument("--charger")
    rejected.add_argument("--stack", help="a deployed CloudFormation stack instead of the local stack")
    rejected.set_defaults(func=_frames_rejected)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except NoTarget as exc:
        print(f"laddvakt: {exc}", file=sys.stderr)
        return 2
    except LaddvaktError as exc:
        print(f"laddvakt: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

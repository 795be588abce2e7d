"""`laddvakt up`: the whole system on one machine, with no AWS account and no Docker.

moto's server (with Step Functions execution on and Lambda invocations running our handlers
in-process), everything the synthesized template defines deployed into it, an MQTT broker, the
IoT rule applied to broker traffic, Lambda's SQS and DynamoDB stream pollers, the fleet event
bus with a tap queue for `laddvakt events tail`, and the fleet API behind a local authorizer. `.laddvakt/local.json` tells other commands where it all is while it runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
import paho.mqtt.client as mqtt

from laddvakt.local import fast_reads, lambdas
from laddvakt.local.api_gateway import LocalApiGateway
from laddvakt.local.auth import issue_token
from laddvakt.local.broker import MqttBroker, wait_for_port
from laddvakt.local.deploy import DeployedResources, LocalDeployment
from laddvakt.local.event_sources import Scheduler, SqsPoller, StreamPoller
from laddvakt.local.event_tap import create_tap
from laddvakt.local.firehose import LocalFirehose
from laddvakt.local.rule_bridge import RuleBridge
from shared.topology import OUTBOUND_QOS, Names

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-north-1"
ACCOUNT = "123456789012"
HOST = "127.0.0.1"
log = logging.getLogger("laddvakt.local")


@dataclass(frozen=True)
class LocalPorts:
    moto: int = 4566
    mqtt: int = 1883
    api: int = 3000


def add_up_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--moto-port", type=int, default=4566, help="moto's AWS endpoint (default 4566)")
    parser.add_argument("--mqtt-port", type=int, default=1883, help="the MQTT broker (default 1883)")
    parser.add_argument("--api-port", type=int, default=3000, help="the fleet API (default 3000)")


def ports_from_args(args: argparse.Namespace) -> LocalPorts:
    return LocalPorts(moto=args.moto_port, mqtt=args.mqtt_port, api=args.api_port)


# --- the template, synthesized once per change of the code that shapes it --------------------


def _source_hash() -> str:
    digest = hashlib.sha256()
    files = [ROOT / "app.py", ROOT / "pyproject.toml", *sorted((ROOT / "infra").rglob("*.py")),
             *sorted((ROOT / "shared").rglob("*.py"))]  # fmt: skip
    for path in files:
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def synthesized_template(cache_dir: Path = ROOT / "build" / "local") -> dict[str, Any]:
    """The template `cdk synth` makes, from a cache while infra/ and shared/ are unchanged."""
    cached = cache_dir / f"template-{_source_hash()}.json"
    if not cached.exists():
        print("    synthesizing the CDK app (once per change of infra/ or shared/, ~10 s)", flush=True)
        cache_dir.mkdir(parents=True, exist_ok=True)
        for old in cache_dir.glob("template-*.json"):
            old.unlink()
        subprocess.run([sys.executable, "-m", "infra.synth", "--out", str(cached)], cwd=ROOT, check=True)
    template: dict[str, Any] = json.loads(cached.read_text())
    return template


# --- the stack -------------------------------------------------------------------------------


class LocalStack:
    def __init__(self, ports: LocalPorts = LocalPorts(), state_dir: Path = Path(".laddvakt")) -> None:
        self.ports = ports
        self.state_dir = state_dir
        self.endpoint_url = f"http://{HOST}:{ports.moto}"
        self.api_url = f"http://{HOST}:{ports.api}"
        self.mqtt_host, self.mqtt_port = HOST, ports.mqtt
        self.resources = DeployedResources()
        self.names: dict[str, str] = {}
        self._moto: Any = None
        self._broker = MqttBroker(HOST, ports.mqtt)
        self._publisher: mqtt.Client | None = None
        self._bridge: RuleBridge | None = None
        self._pollers: list[SqsPoller] = []
        self._stream_pollers: list[StreamPoller] = []
        self._api: LocalApiGateway | None = None
        self.scheduler: Scheduler | None = None
        self.firehose: LocalFirehose | None = None
        self._saved_env: dict[str, str | None] = {}
        # Each function's output lands in .laddvakt/logs/<function>.log, as in its log group.
        self.runner = lambdas.InProcessRunner(log_dir=state_dir / "logs")

    # boto3 against the local endpoint, for tests and the demo
    def boto3_client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=REGION)

    client = boto3_client

    def boto3_resource(self, service: str) -> Any:
        return boto3.resource(service, endpoint_url=self.endpoint_url, region_name=REGION)

    def table(self, name: str) -> Any:
        return self.boto3_resource("dynamodb").Table(name)

    def issue_token(self, fleet_id: str, groups: list[str] | None = None) -> str:
        return issue_token(fleet_id, groups, state_dir=self.state_dir)

    def _set_env(self) -> None:
        env = {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "laddvakt-local",
            "AWS_SECRET_ACCESS_KEY": "laddvakt-local",
            # moto's Step Functions executor calls Lambda back through this port.
            "MOTO_PORT": str(self.ports.moto),
        }
        self._saved_env = {key: os.environ.get(key) for key in env}
        os.environ.update(env)

    def _restore_env(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def start(self) -> LocalStack:
        template = synthesized_template()
        self._set_env()
        self._start_moto()
        self.resources = LocalDeployment(
            template, endpoint_url=self.endpoint_url, region=REGION, account=ACCOUNT
        ).create()
        self.names = self._physical_names()
        self._broker.start()
        self._publisher = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id="laddvakt-iot-data", protocol=mqtt.MQTTv311
        )
        self._publisher.connect(HOST, self.ports.mqtt)
        self._publisher.loop_start()
        self.firehose = LocalFirehose(self.resources.delivery_streams, self.endpoint_url, REGION)
        self.firehose.start()
        self._bridge = RuleBridge(
            self.resources.rules, HOST, self.ports.mqtt, self.endpoint_url, REGION, self.firehose
        )
        self._bridge.start()
        self._pollers = [
            SqsPoller(source, self.endpoint_url, REGION) for source in self.resources.event_sources
        ]
        for poller in self._pollers:
            poller.start()
        self._stream_pollers = [
            StreamPoller(source, self.endpoint_url, REGION) for source in self.resources.stream_sources
        ]
        for stream_poller in self._stream_pollers:
            stream_poller.start()
        if self.resources.api_function is None:
            raise RuntimeError("the template has no API function to serve")
        self.scheduler = Scheduler(self.resources.schedules, self.endpoint_url, REGION)
        self.scheduler.start()
        self._api = LocalApiGateway(
            HOST, self.ports.api, self.resources.api_function, self.endpoint_url, REGION, self.state_dir
        )
        self._api.start()
        self._write_state()
        return self

    def _start_moto(self) -> None:
        from moto.core.config import default_user_config
        from moto.iotdata.models import IoTDataPlaneBackend
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer

        default_user_config["lambda"] = {"use_docker": False}
        default_user_config["stepfunctions"] = {"execute_state_machine": True}
        lambdas.install(self.runner)
        fast_reads.install()
        stack = self
        original_publish = IoTDataPlaneBackend.publish

        def publish(backend: Any, topic: str, payload: Any) -> None:
            original_publish(backend, topic, payload)
            # What IoT Core does with a data-plane publish: deliver it to the topic's subscribers.
            if stack._publisher is not None:
                data = payload.encode() if isinstance(payload, str) else bytes(payload)
                stack._publisher.publish(topic, data, qos=OUTBOUND_QOS)

        IoTDataPlaneBackend.publish = publish  # type: ignore[method-assign,assignment]
        for name in ("werkzeug", "moto"):
            logging.getLogger(name).setLevel(logging.ERROR)
        self._moto = ThreadedMotoServer(ip_address=HOST, port=self.ports.moto, verbose=False)
        self._moto.start()
        wait_for_port(HOST, self.ports.moto)

    def _physical_names(self) -> dict[str, str]:
        names = Names()
        invoice_bucket = names.invoice_bucket(ACCOUNT, REGION)
        if names.fleet_event_bus not in self.resources.event_buses.values():
            raise RuntimeError(f"the template has no fleet event bus {names.fleet_event_bus}")
        if invoice_bucket not in self.resources.buckets.values():
            raise RuntimeError(
                f"the template has no invoice bucket {invoice_bucket}: {self.resources.buckets}"
            )
        return {
            "registry_table": names.registry_table,
            "sessions_table": names.sessions_table,
            "rejected_frames_table": names.rejected_frames_table,
            "billing_table": names.billing_table,
            "invoice_bucket": invoice_bucket,
            "ingest_queue": next(
                u for u in self.resources.queues.values() if u.endswith("/" + names.ingest_queue)
            ),
            "ingest_dead_letter_queue": next(
                u for u in self.resources.queues.values() if u.endswith("/" + names.ingest_dead_letter_queue)
            ),
            "billing_state_machine": next(
                a
                for a in self.resources.state_machines.values()
                if a.endswith(":" + names.billing_state_machine)
            ),
            "statement_state_machine": next(
                a
                for a in self.resources.state_machines.values()
                if a.endswith(":" + names.statement_state_machine)
            ),
            "ledger_bucket": names.ledger_bucket(ACCOUNT, REGION),
            "fleet_event_bus": names.fleet_event_bus,
            "fleet_events_dead_letter_queue": next(
                u
                for u in self.resources.queues.values()
                if u.endswith("/" + names.fleet_events_dead_letter_queue)
            ),
            # Local only: every live fleet event, for `laddvakt events tail` (see event_tap.py).
            "fleet_events_tap_queue": create_tap(
                self.boto3_client("events"), self.boto3_client("sqs"), names.fleet_event_bus, names
            ),
        }

    def _write_state(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        state = {
            "pid": os.getpid(),
            "endpoint_url": self.endpoint_url,
            "region": REGION,
            "account": ACCOUNT,
            "api_url": self.api_url,
            "mqtt": {"host": HOST, "port": self.ports.mqtt, "broker": self._broker.kind},
            "names": self.names,
            "functions": sorted(self.resources.function_env),
        }
        (self.state_dir / "local.json").write_text(json.dumps(state, indent=2))

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Until every queue is drained and no billing execution is running."""
        sfn = self.boto3_client("stepfunctions")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            running = any(
                sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]
                for arn in self.resources.state_machines.values()
            )
            pollers: list[SqsPoller | StreamPoller] = [*self._pollers, *self._stream_pollers]
            if all(p.idle for p in pollers) and not running:
                return
            time.sleep(0.2)
        raise TimeoutError(f"the local stack was still busy after {timeout:.0f} s")

    def stop(self) -> None:
        (self.state_dir / "local.json").unlink(missing_ok=True)
        if self._api is not None:
            self._api.stop()
        for poller in self._pollers:
            poller.stop()
        for stream_poller in self._stream_pollers:
            stream_poller.stop()
        if self.scheduler is not None:
            self.scheduler.stop()
        if self._bridge is not None:
            self._bridge.stop()
        if self.firehose is not None:
            self.firehose.stop()
        if self._publisher is not None:
            self._publisher.loop_stop()
            self._publisher.disconnect()
        self._broker.stop()
        if self._moto is not None:
            self._moto.stop()
        self.runner.close()
        self._restore_env()

    def __enter__(self) -> LocalStack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def run_up(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    started = time.monotonic()
    with LocalStack(ports_from_args(args), Path(args.state_dir)) as stack:
        print(
            f"laddvakt up: ready in {time.monotonic() - started:.0f} s — moto {stack.endpoint_url} · "
            f"mqtt {stack.mqtt_host}:{stack.mqtt_port} ({stack._broker.kind}) · fleet API {stack.api_url} "
            f"(Ctrl-C to stop)",
            flush=True,
        )
        stop.wait()
        print("laddvakt up: stopping", flush=True)
    return 0

"""Runs our Lambda handlers in-process when moto is asked to invoke a function.

moto, configured with `lambda.use_docker = False`, sends every Invoke (from boto3, from the SQS
poller, from Step Functions' executor) to `LambdaSimpleBackend.invoke`. We replace that method
with one that imports the function's handler from this checkout, with the function's own
environment as its cold start, and calls it as the Lambda runtime would. Each function is one
instance: its invocations run one at a time, as one Lambda execution environment runs them.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import IO, Any, TextIO

log = logging.getLogger("laddvakt.local.lambdas")


@dataclass
class LambdaContext:
    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.log_group_name = f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class ThreadRoutedStdout:
    """Lambda sends what a function prints (logs, EMF metrics) to its log group. Locally, a
    thread running a function writes to that function's log file; every other thread writes to
    the real stdout, so `laddvakt up` and the demo stay readable.
    """

    def __init__(self, real: TextIO) -> None:
        self.real = real
        self._routes: dict[int, IO[str]] = {}

    @contextmanager
    def routed(self, target: IO[str]) -> Iterator[None]:
        ident = threading.get_ident()
        self._routes[ident] = target
        try:
            yield
        finally:
            self._routes.pop(ident, None)
            target.flush()

    def write(self, text: str) -> int:
        return self._routes.get(threading.get_ident(), self.real).write(text)

    def flush(self) -> None:
        self._routes.get(threading.get_ident(), self.real).flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


class InProcessRunner:
    def __init__(self, process_env: dict[str, str] | None = None, log_dir: Path | None = None) -> None:
        # Variables every function sees locally (tracing off: there is no X-Ray daemon here).
        self._process_env = {"POWERTOOLS_TRACE_DISABLED": "1", **(process_env or {})}
        self._modules: dict[str, tuple[ModuleType, str]] = {}
        self._import_lock = threading.Lock()
        self._instance_locks: dict[str, threading.Lock] = {}
        self.invocations: dict[str, int] = {}
        self.log_dir = log_dir
        self._log_files: dict[str, IO[str]] = {}
        self._stdout: ThreadRoutedStdout | None = None
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            if not isinstance(sys.stdout, ThreadRoutedStdout):
                sys.stdout = ThreadRoutedStdout(sys.stdout)
            self._stdout = sys.stdout

    @contextmanager
    def _function_output(self, name: str) -> Iterator[None]:
        if self._stdout is None or self.log_dir is None:
            yield
            return
        if name not in self._log_files:
            self._log_files[name] = (self.log_dir / f"{name}.log").open("a", encoding="utf-8")
        with self._stdout.routed(self._log_files[name]):
            yield

    def close(self) -> None:
        for handle in self._log_files.values():
            handle.close()
        self._log_files.clear()

    def _load(self, function: Any) -> tuple[ModuleType, str]:
        name = function.function_name
        with self._import_lock:
            if name in self._modules:
                return self._modules[name]
            module_name, _, attribute = function.handler.rpartition(".")
            for other, (module, _) in self._modules.items():
                if module.__name__ == module_name:
                    raise RuntimeError(
                        f"{name} and {other} share handler module {module_name}: one cold start each"
                    )
            env = {
                **self._process_env,
                **(function.environment_vars or {}),
                "AWS_LAMBDA_FUNCTION_NAME": name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
            }
            saved = {key: os.environ.get(key) for key in env}
            os.environ.update(env)
            try:
                # The module builds its settings and clients now, from this environment: its cold start.
                with self._function_output(name):
                    module = importlib.import_module(module_name)
            finally:
                for key, value in saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value
            self._modules[name] = (module, attribute)
            self._instance_locks[name] = threading.Lock()
            return self._modules[name]

    def invoke(self, function: Any, body: Any) -> tuple[bytes, bool]:
        """Returns (payload, errored) like Lambda's Invoke."""
        if isinstance(body, bytes):
            body = body.decode()
        event = json.loads(body) if body else {}
        try:
            module, attribute = self._load(function)
        except Exception as exc:  # a failed cold start is a Lambda error, reported as Lambda reports it
            log.exception("cold start of %s failed", function.function_name)
            return _error_payload(exc), True
        context = LambdaContext(
            function_name=function.function_name,
            invoked_function_arn=function.function_arn,
            memory_limit_in_mb=int(function.memory_size),
            timeout_seconds=int(function.timeout),
            aws_request_id=str(uuid.uuid4()),
        )
        with self._instance_locks[function.function_name]:
            self.invocations[function.function_name] = self.invocations.get(function.function_name, 0) + 1
            try:
                with self._function_output(function.function_name):
                    result = getattr(module, attribute)(event, context)
            except Exception as exc:
                log.exception("%s failed", function.function_name)
                return _error_payload(exc), True
        return json.dumps(result, default=str).encode(), False


def _error_payload(exc: BaseException) -> bytes:
    return json.dumps(
        {
            "errorMessage": str(exc),
            "errorType": type(exc).__name__,
            "stackTrace": traceback.format_exception(type(exc), exc, exc.__traceback__),
        }
    ).encode()


def install(runner: InProcessRunner) -> None:
    """Point moto's Docker-less Lambda backend at the runner (in this process only)."""
    from moto.awslambda_simple.models import LambdaSimpleBackend

    def invoke(
        self: Any, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
    ) -> bytes:
        function = self.get_function(function_name, qualifier)
        payload, errored = runner.invoke(function, body)
        if errored:
            response_headers["x-amz-function-error"] = "Unhandled"
        return payload

    LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]

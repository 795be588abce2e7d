"""The whole local stack, started once for the e2e tests on free ports and a fresh state dir."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from laddvakt.local.stack import LocalPorts, LocalStack


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    state_dir: Path = tmp_path_factory.mktemp("laddvakt-state")
    with LocalStack(LocalPorts(moto=free_port(), mqtt=free_port(), api=free_port()), state_dir) as stack:
        yield stack

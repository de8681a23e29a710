"""A PostgreSQL server of a test's own (initdb on a free port, never the shared one), which the test may stop and
start: for what the fleet does while its database is away."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.conftest import free_port

PG_BIN = "/usr/lib/postgresql/15/bin"


@dataclass
class OwnPostgres:
    port: int
    data: str
    log: str
    as_postgres: list[str]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def ctl(self, *args: str) -> None:
        subprocess.run([*self.as_postgres, f"{PG_BIN}/pg_ctl", "-D", self.data, "-l", self.log, "-w", *args],
                       check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        self.ctl("-o", f"-p {self.port} -k {os.path.dirname(self.data)} -c listen_addresses=127.0.0.1 "
                       "-c fsync=off -c full_page_writes=off", "start")

    def stop(self) -> None:
        self.ctl("-m", "fast", "stop")


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    if not os.path.exists(f"{PG_BIN}/initdb"):
        pytest.fail(f"PostgreSQL server binaries are missing from {PG_BIN}")
    root = tempfile.mkdtemp(prefix="pinglass-pg-")
    # PostgreSQL refuses to run as root: as root (CI), the server runs as the postgres user
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_postgres:
        shutil.chown(root, "postgres")
    server = OwnPostgres(free_port(), os.path.join(root, "data"), os.path.join(root, "log"), as_postgres)
    subprocess.run([*as_postgres, f"{PG_BIN}/initdb", "-D", server.data, "-A", "trust", "-U", "postgres",
                    "--no-sync", "-E", "UTF8"], check=True, capture_output=True, timeout=60)
    server.start()
    try:
        yield server
    finally:
        try:
            server.stop()
        except subprocess.CalledProcessError:
            pass  # already stopped by the test
        shutil.rmtree(root, ignore_errors=True)

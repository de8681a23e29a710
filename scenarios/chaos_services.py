"""The chaos run's own PostgreSQL and RabbitMQ servers, on free loopback ports, so that the run may stop and start
them mid-run: the shared ones (5432, 5672) are never touched.

``ThrowawayPostgres``: ``initdb`` in a temporary directory (trust auth, fsync off), ``pg_ctl`` start/stop; ``make
bench`` starts one too, with its own server options (``options``), for pg_stat_statements.
``ThrowawayRabbitMQ``: ``rabbitmq-server`` with its node name, ports, Mnesia and logs in a temporary directory
(durable queues and persistent messages survive its restart, as on a real server). Each is started in its own
process group and ``close()`` stops it and removes its directory.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from scenarios import fleet

PG_BIN = Path("/usr/lib/postgresql/15/bin")
RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


class ThrowawayPostgres:
    """A PostgreSQL server of the run's own on 127.0.0.1:``port`` (as root it runs as the postgres user).
    ``options``: more server options, after chaos's own (a later ``-c`` of the same setting wins)."""

    def __init__(self, port: int, run_dir: Path, options: str = "") -> None:
        if not (PG_BIN / "initdb").exists():
            raise RuntimeError(f"PostgreSQL server binaries are missing from {PG_BIN}")
        self.port, self.root = port, tempfile.mkdtemp(prefix="pinglass-chaos-pg-")
        # The server's log lives beside its data (the postgres user may not enter run_dir); close() copies it there.
        self.data, self.log = os.path.join(self.root, "data"), os.path.join(self.root, "postgres.log")
        self.run_log = run_dir / "postgres.log"
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_postgres:
            shutil.chown(self.root, "postgres")
        self.initialised = False
        self.options = options

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        subprocess.run([*self.as_postgres, str(PG_BIN / "pg_ctl"), "-D", self.data, "-l", self.log, "-w", *args],
                       check=True, capture_output=True, timeout=90)

    def start(self) -> None:
        if not self.initialised:
            subprocess.run([*self.as_postgres, str(PG_BIN / "initdb"), "-D", self.data, "-A", "trust", "-U",
                            "postgres", "--no-sync", "-E", "UTF8"], check=True, capture_output=True, timeout=90)
            self.initialised = True
        self._ctl("-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                        "-c full_page_writes=off -c synchronous_commit=off -c max_connections=300 "
                        f"{self.options}", "start")

    def stop(self) -> None:
        """A fast shutdown: every connection is cut, as when the primary restarts."""
        self._ctl("-m", "fast", "stop")

    def close(self) -> None:
        try:
            self.stop()
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass  # not running
        if os.path.exists(self.log):
            shutil.copyfile(self.log, self.run_log)
        shutil.rmtree(self.root, ignore_errors=True)


class ThrowawayRabbitMQ:
    """A RabbitMQ node of the run's own: AMQP on 127.0.0.1:``port``, Erlang distribution on ``port`` + 1, the
    node name ``pinglass-chaos-<port>@localhost`` (registered with the machine's epmd)."""

    def __init__(self, port: int, run_dir: Path) -> None:
        if not RABBITMQ_SERVER.exists():
            raise RuntimeError(f"rabbitmq-server is missing ({RABBITMQ_SERVER})")
        self.port, self.root = port, tempfile.mkdtemp(prefix="pinglass-chaos-rabbitmq-")
        self.node, self.log_path = f"pinglass-chaos-{port}@localhost", run_dir / "rabbitmq.log"
        os.chmod(self.root, 0o777)  # noqa: S103 — the server may drop to the rabbitmq user
        Path(self.root, "rabbitmq.conf").write_text(f"listeners.tcp.default = 127.0.0.1:{port}\n"
                                                    "loopback_users = none\n")
        Path(self.root, "enabled_plugins").write_text("[].\n")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def env(self) -> dict[str, str]:
        return {**os.environ, "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_NODENAME": self.node,
                "RABBITMQ_DIST_PORT": str(self.port + 1), "RABBITMQ_MNESIA_BASE": f"{self.root}/mnesia",
                "RABBITMQ_LOG_BASE": f"{self.root}/log", "RABBITMQ_CONFIG_FILE": f"{self.root}/rabbitmq.conf",
                "RABBITMQ_ENABLED_PLUGINS_FILE": f"{self.root}/enabled_plugins", "HOME": self.root,
                "RABBITMQ_PID_FILE": f"{self.root}/pid"}

    def start(self, timeout_s: float = 60) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([str(RABBITMQ_SERVER)], env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        (self.log_path.parent / "rabbitmq.pid").write_text(str(self.proc.pid))
        deadline = time.monotonic() + timeout_s
        while b"Starting broker... completed" not in self.log_path.read_bytes() or not self._listening():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"rabbitmq-server did not start on port {self.port} (see {self.log_path})")
            time.sleep(0.2)
        # The next start is announced again in the same log: forget this one.
        self.log_path.write_bytes(self.log_path.read_bytes().replace(b"Starting broker... completed",
                                                                     b"Starting broker... done"))

    def _listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def unacked_by_client_port(self) -> dict[int, int] | None:
        """Messages delivered and not yet acknowledged, per client port of the channel's connection (None: the
        node did not answer). A channel's name is ``<client ip>:<port> -> <server ip>:<port> (<n>)``."""
        try:
            # the script itself: /usr/sbin's wrapper would switch to the rabbitmq user and miss this node's cookie
            out = subprocess.run([str(RABBITMQ_SERVER.parent / "rabbitmqctl"), "-n", self.node, "-q",
                                  "list_channels", "name", "messages_unacknowledged"], env=self.env(),
                                 capture_output=True, text=True, timeout=20, check=True).stdout
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            return None
        held: dict[int, int] = {}
        for line in out.splitlines():
            match = re.match(r"\s*[\d.]+:(\d+) -> .*\)\s+(\d+)\s*$", line)
            if match:
                port = int(match.group(1))
                held[port] = held.get(port, 0) + int(match.group(2))
        return held

    def stop(self) -> None:
        """SIGTERM to the node's process group (a clean shutdown: persistent messages stay on disk)."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            self.proc.wait()
        deadline = time.monotonic() + 20
        while self._listening() and time.monotonic() < deadline:
            time.sleep(0.2)
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def group_tcp_ports(pgid: int, *, remote_port: int | None = None) -> set[int]:
    """The local TCP ports of every process in process group ``pgid`` (from /proc: each process's socket inodes
    matched with /proc/net/tcp), only of its connections to ``remote_port`` when given. Filter by the peer: a local
    port is unique only per peer, so a dead group's port to PostgreSQL may at once be a live process's port to
    the broker — counted as the dead group's, its channel looked alive (the RabbitMQ chaos run's "back in their
    queues after None s", 2-5 kills of ~21)."""
    inodes: set[str] = set()
    for pid in fleet.group_pids(pgid):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as rows:
                next(rows)
                for row in rows:
                    parts = row.split()
                    peer = int(parts[2].rsplit(":", 1)[1], 16)
                    if parts[9] in inodes and (remote_port is None or peer == remote_port):
                        ports.add(int(parts[1].rsplit(":", 1)[1], 16))
        except FileNotFoundError:
            continue
    return ports

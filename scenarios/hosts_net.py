"""The hosts of ``make hosts``: network namespaces on this machine joined by veth pairs to one bridge, on a
private subnet (10.77.0.0/24), each namespace a "host" with its own loopback and one address.

::

    root namespace (the driver: the Mini App user, the payer, the operator)   pgl-br0 10.77.0.1
      ├── pgl-data  ↔ eth0 in pinglass-data     10.77.0.2  PostgreSQL, Redis, the sandbox fakes, Prometheus
      ├── pgl-web   ↔ eth0 in pinglass-web      10.77.0.3  gunicorn (the web)
      ├── pgl-w1    ↔ eth0 in pinglass-worker1  10.77.0.4  Dramatiq workers + their /metrics, the scheduler
      └── pgl-w2    ↔ eth0 in pinglass-worker2  10.77.0.5  Dramatiq workers + their /metrics

Nothing here routes or NATs: the bridge only joins the namespaces and the root namespace's 10.77.0.1, and a
namespace has no address but its loopback and its 10.77.0.x, so whatever a host binds is reachable from the
subnet at most. ``teardown`` kills every process in each namespace (they are ours: nothing else runs there),
deletes the namespaces, the veths and the bridge; ``setup`` calls it first, so a run that died leaves nothing
behind for the next one. Needs root (``ip netns``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass

SUBNET = "10.77.0.0/24"
BRIDGE = "pgl-br0"
BRIDGE_ADDRESS = "10.77.0.1"
PREFIX = 24


@dataclass(frozen=True)
class Host:
    name: str  # data, web, worker1, worker2
    address: str
    link: str  # the veth's end in the root namespace (≤ 15 characters)

    @property
    def netns(self) -> str:
        return f"pinglass-{self.name}"


DATA = Host("data", "10.77.0.2", "pgl-data")
WEB = Host("web", "10.77.0.3", "pgl-web")
WORKER1 = Host("worker1", "10.77.0.4", "pgl-w1")
WORKER2 = Host("worker2", "10.77.0.5", "pgl-w2")
HOSTS = (DATA, WEB, WORKER1, WORKER2)


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True, timeout=30)


def in_host(host: Host, *argv: str) -> list[str]:
    """The argv that runs ``argv`` inside ``host``'s namespace."""
    return ["ip", "netns", "exec", host.netns, *argv]


def pids(host: Host) -> list[int]:
    """Every process in ``host``'s namespace, whoever started it (``ip netns pids``)."""
    answer = ip("netns", "pids", host.netns, check=False)
    return [int(p) for p in answer.stdout.split()] if answer.returncode == 0 else []


def kill_host(host: Host, sig: int = signal.SIGKILL) -> list[int]:
    """Send ``sig`` to every process in the namespace at once (no warning with SIGKILL); the pids signalled."""
    signalled = []
    for pid in pids(host):
        try:
            os.kill(pid, sig)
            signalled.append(pid)
        except ProcessLookupError:
            pass
    return signalled


def link_down(host: Host) -> None:
    """Pull the host's cable: its veth end in the root namespace goes down."""
    ip("link", "set", host.link, "down", check=False)


def _namespaces() -> list[str]:
    answer = ip("netns", "list", check=False)
    return [line.split()[0] for line in answer.stdout.splitlines() if line.strip()]


def _links() -> list[str]:
    answer = ip("-o", "link", "show", check=False)
    names = []
    for line in answer.stdout.splitlines():
        parts = line.split(":", 2)
        if len(parts) > 1:
            names.append(parts[1].strip().split("@", 1)[0])
    return names


def teardown(*, grace_s: float = 5.0) -> list[str]:
    """Stop everything a (previous) run left: processes in our namespaces (TERM, then KILL after ``grace_s``),
    the namespaces, the veths and the bridge. Returns what it removed."""
    removed: list[str] = []
    ours = [h for h in HOSTS if h.netns in _namespaces()]
    for host in ours:
        kill_host(host, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while any(pids(h) for h in ours) and time.monotonic() < deadline:
        time.sleep(0.2)
    for host in ours:
        kill_host(host, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while any(pids(h) for h in ours) and time.monotonic() < deadline:
        time.sleep(0.1)
    for host in ours:
        ip("netns", "del", host.netns, check=False)
        removed.append(host.netns)
    links = _links()
    for name in [h.link for h in HOSTS] + [BRIDGE]:
        if name in links:
            ip("link", "del", name, check=False)
            removed.append(name)
    return removed


def setup() -> list[str]:
    """Create the bridge, the four namespaces and their links; each namespace gets ``lo`` and ``eth0`` up with
    its address. Returns what a previous run had left and was removed first."""
    left = teardown()
    ip("link", "add", BRIDGE, "type", "bridge")
    ip("addr", "add", f"{BRIDGE_ADDRESS}/{PREFIX}", "dev", BRIDGE)
    ip("link", "set", BRIDGE, "up")
    for host in HOSTS:
        ip("netns", "add", host.netns)
        ip("link", "add", host.link, "type", "veth", "peer", "name", "eth0", "netns", host.netns)
        ip("link", "set", host.link, "master", BRIDGE, "up")
        ip("netns", "exec", host.netns, "ip", "addr", "add", f"{host.address}/{PREFIX}", "dev", "eth0")
        ip("netns", "exec", host.netns, "ip", "link", "set", "eth0", "up")
        ip("netns", "exec", host.netns, "ip", "link", "set", "lo", "up")
        # IPv4 only: no link-local IPv6 address a wildcard bind could also cover
        ip("netns", "exec", host.netns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
    return left


def listeners(host: Host) -> list[str]:
    """The TCP addresses listening in ``host``'s namespace (``ss -ltn``), e.g. ``10.77.0.2:5432``."""
    answer = subprocess.run(in_host(host, "ss", "-Hltn"), capture_output=True, text=True, timeout=30, check=False)
    return sorted({line.split()[3] for line in answer.stdout.splitlines() if len(line.split()) > 3})


def addresses(host: Host) -> list[str]:
    """Every IPv4/IPv6 address the namespace has (what a wildcard bind there would cover)."""
    answer = subprocess.run(in_host(host, "ip", "-o", "addr", "show"), capture_output=True, text=True, timeout=30,
                            check=False)
    return sorted({line.split()[3].split("/")[0] for line in answer.stdout.splitlines() if len(line.split()) > 3})


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["down"]:
        print("usage: python -m scenarios.hosts_net down", file=sys.stderr)
        sys.exit(2)
    print(f"hosts: removed {', '.join(teardown()) or 'nothing'}")

"""Forward migrations with rollbacks: ``db/migrations/NNNN_name.up.sql`` and its ``.down.sql``.

Applied in order under a Postgres advisory lock (so two processes starting together do not race), each in
its own transaction, recorded in ``schema_migrations``. Usage: ``python -m db.migrate up|down [N]|status``.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql as pgsql

MIGRATION_DIR = Path(__file__).with_name("migrations")
_FILE = re.compile(r"^(\d{4})_(\w+)\.(up|down)\.sql$")
LOCK_KEY = 7_241_530_001  # advisory lock id of the migration runner
LOCK_TIMEOUT = "30s"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    up: Path
    down: Path


def discover(directory: Path = MIGRATION_DIR) -> list[Migration]:
    """Every migration pair in order; a missing .down or a gap in numbering is an error."""
    found: dict[int, dict[str, Path]] = {}
    names: dict[int, str] = {}
    for path in directory.iterdir():
        match = _FILE.match(path.name)
        if match:
            version = int(match.group(1))
            names[version] = match.group(2)
            found.setdefault(version, {})[match.group(3)] = path
    migrations = []
    for expected, version in enumerate(sorted(found), start=1):
        if version != expected:
            raise RuntimeError(f"migration numbering gap at {expected:04d}")
        pair = found[version]
        if set(pair) != {"up", "down"}:
            raise RuntimeError(f"migration {version:04d} lacks its {'down' if 'up' in pair else 'up'} file")
        migrations.append(Migration(version, names[version], pair["up"], pair["down"]))
    return migrations


def _locked(conn: psycopg.Connection) -> None:
    conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
    conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
    conn.execute("""CREATE TABLE IF NOT EXISTS schema_migrations (
                        version integer PRIMARY KEY, name text NOT NULL,
                        applied_at timestamptz NOT NULL DEFAULT now())""")


def applied_versions(conn: psycopg.Connection) -> list[int]:
    rows = conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    return [row[0] for row in rows]


def migrate_up(database_url: str, target: int | None = None) -> list[int]:
    """Apply every pending migration up to ``target`` (all by default); returns the versions applied."""
    done: list[int] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        _locked(conn)
        try:
            current = set(applied_versions(conn))
            for migration in discover():
                if migration.version in current or (target is not None and migration.version > target):
                    continue
                with conn.transaction():
                    conn.execute(migration.up.read_text(encoding="utf-8"))
                    conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                                 (migration.version, migration.name))
                done.append(migration.version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    return done


def migrate_down(database_url: str, to: int = 0) -> list[int]:
    """Roll back applied migrations newest first until only versions <= ``to`` remain."""
    undone: list[int] = []
    by_version = {m.version: m for m in discover()}
    with psycopg.connect(database_url, autocommit=True) as conn:
        _locked(conn)
        try:
            for version in reversed(applied_versions(conn)):
                if version <= to:
                    break
                with conn.transaction():
                    conn.execute(by_version[version].down.read_text(encoding="utf-8"))
                    conn.execute("DELETE FROM schema_migrations WHERE version = %s", (version,))
                undone.append(version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    return undone


def ensure_database(database_url: str) -> bool:
    """Create the database named in the URL if it does not exist; True when it was created."""
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return False
        try:
            conn.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
        except psycopg.errors.DuplicateDatabase:
            return False
    return True


def main(argv: list[str]) -> int:
    url = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/pinglass"
    command = argv[0] if argv else "up"
    if command == "up":
        ensure_database(url)
        print(f"migrate: applied {migrate_up(url) or 'nothing (up to date)'}")
    elif command == "down":
        print(f"migrate: rolled back {migrate_down(url, int(argv[1]) if len(argv) > 1 else 0)}")
    elif command == "status":
        with psycopg.connect(url) as conn:
            _locked(conn)
            applied = set(applied_versions(conn))
        for m in discover():
            print(f"{m.version:04d} {m.name}: {'applied' if m.version in applied else 'pending'}")
    else:
        print("usage: python -m db.migrate up|down [N]|status", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

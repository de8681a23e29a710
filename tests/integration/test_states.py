"""The state tables of ``rules.states`` name exactly the statuses the schema and the API allow: each table's
statuses equal its CHECK constraint (read from the migrated database's ``pg_constraint``) and, where the API
shows the status, the OpenAPI enum."""

from __future__ import annotations

import re

import psycopg
import pytest

from rules.states import CHUNK_MOVES, JOB_MOVES, PAYMENT_MOVES, REFUND_MOVES, TASK_MOVES, TBANK_TO_PAYMENT
from web.api.openapi_schemas import schemas

TABLES = {  # state table → (database table, CHECK constraint)
    "payment": (PAYMENT_MOVES, "payments", "payments_status_check"),
    "job": (JOB_MOVES, "generation_jobs", "generation_jobs_status_check"),
    "task": (TASK_MOVES, "generation_tasks", "generation_tasks_status_check"),
    "chunk": (CHUNK_MOVES, "deliveries", "deliveries_status_check"),
    "refund": (REFUND_MOVES, "refunds", "refunds_status_check"),
}


def _check_statuses(url: str, table: str, constraint: str) -> set[str]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid "
            "WHERE t.relname = %s AND c.conname = %s AND c.contype = 'c'", (table, constraint)).fetchone()
    assert row is not None, f"{table} has no CHECK constraint {constraint}"
    return set(re.findall(r"'([a-z_]+)'::text", row[0]))


@pytest.mark.parametrize("name", sorted(TABLES))
def test_state_table_matches_the_check_constraint(database_url: str, name: str) -> None:
    moves, table, constraint = TABLES[name]
    assert set(moves) == _check_statuses(database_url, table, constraint)
    for source, targets in moves.items():
        assert targets <= set(moves), f"{name}: {source} moves to a status the table does not know"


def test_state_tables_match_the_openapi_enums() -> None:
    shapes = schemas(["starter"], ["style"])
    enum = lambda shape: set(shape["enum"])  # noqa: E731
    generation = shapes["Generation"]["properties"]
    assert enum(shapes["Payment"]["properties"]["status"]) == set(PAYMENT_MOVES)
    assert enum(generation["status"]) == set(JOB_MOVES)
    assert enum(generation["refunds"]["items"]["properties"]["status"]) == set(REFUND_MOVES)


def test_bank_statuses_map_to_payment_statuses() -> None:
    assert set(TBANK_TO_PAYMENT.values()) <= set(PAYMENT_MOVES)

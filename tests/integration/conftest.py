"""Fixtures shared by the integration tests beyond those of tests/conftest.py."""

from tests.own_postgres import own_postgres  # noqa: F401 — a PostgreSQL of the test's own

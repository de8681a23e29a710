"""Our own database error types, so callers above db/ never catch psycopg exceptions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import PoolTimeout


class DatabaseError(Exception):
    """Any database failure; ``retryable`` when trying again may help (connection lost, serialization)."""

    def __init__(self, message: str, *, retryable: bool = False, constraint: str | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.constraint = constraint


class UniqueViolation(DatabaseError):
    """A named UNIQUE constraint refused a row (``constraint`` names it)."""


class CheckViolation(DatabaseError):
    """A named CHECK constraint refused a value."""


@contextmanager
def translated() -> Iterator[None]:
    """Re-raise psycopg errors raised inside the block as our own types."""
    try:
        yield
    except pg_errors.UniqueViolation as exc:
        raise UniqueViolation(str(exc).splitlines()[0], constraint=exc.diag.constraint_name) from exc
    except pg_errors.CheckViolation as exc:
        raise CheckViolation(str(exc).splitlines()[0], constraint=exc.diag.constraint_name) from exc
    except (pg_errors.SerializationFailure, pg_errors.DeadlockDetected, pg_errors.LockNotAvailable) as exc:
        raise DatabaseError(str(exc).splitlines()[0], retryable=True) from exc
    except psycopg.OperationalError as exc:
        raise DatabaseError(str(exc).splitlines()[0] if str(exc) else "operational error", retryable=True) from exc
    except psycopg.Error as exc:
        raise DatabaseError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc


def unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says the database cannot be reached right now (not a bug): a lost or refused
    connection, a pool that found no working connection in time, or our retryable DatabaseError. Callers answer
    it as a brief outage (the web: 503 with Retry-After) instead of an internal error."""
    if isinstance(exc, DatabaseError):
        return exc.retryable
    return isinstance(exc, (psycopg.OperationalError, PoolTimeout))

"""The database layer: pool, migrations, named SQL queries and typed query functions.

Query functions take the connection first and keyword arguments after, and never commit: the caller owns
the transaction. psycopg errors are translated to ``db.errors`` types here, at the boundary.
"""

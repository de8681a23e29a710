"""Pure business rules shared by the web and the actors. No Flask, no Dramatiq, no psycopg here."""

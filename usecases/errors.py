"""The one error a use case refuses with: a machine-readable code the adapters map to an answer (an HTTP
status in ``web/``, a log line in ``actors/``), and a sentence for people."""

from __future__ import annotations


class Refused(Exception):
    """The request cannot be done as asked; ``code`` is the API's machine-readable error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

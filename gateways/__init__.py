"""Clients of the outside services, one module each, over one HTTP helper (``gateways.http``)."""

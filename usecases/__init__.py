"""Use cases: what happens when a person or a periodic message asks for something — which rows change, which
objects leave storage, which messages go out — between the adapters (``web/``, ``actors/``) and ``db/``.
Plain functions over a connection or pool, the gateways, the settings and an injected ``now``."""

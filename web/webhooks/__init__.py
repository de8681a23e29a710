"""Placeholder: being written."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("webhooks", __name__)

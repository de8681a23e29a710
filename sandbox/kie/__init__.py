"""The Kie.ai fake: ``create_app(config)`` serves the jobs API; knobs in ``KieFakeConfig`` (``sandbox.kie.app``
documents both)."""

from sandbox.kie.app import create_app
from sandbox.kie.config import KieFakeConfig, config_from_env

__all__ = ["KieFakeConfig", "config_from_env", "create_app"]

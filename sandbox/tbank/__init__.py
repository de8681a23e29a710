"""The T-Bank fake: ``create_app(config)`` serves Internet Acquiring v2 under ``/v2`` with a payment page and
signed notifications (``sandbox.tbank.app`` documents it)."""

from sandbox.tbank.app import TBankFake, create_app
from sandbox.tbank.bank import sandbox_token
from sandbox.tbank.config import TBankFakeConfig, config_from_env

__all__ = ["TBankFake", "TBankFakeConfig", "config_from_env", "create_app", "sandbox_token"]

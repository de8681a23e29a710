"""Issue 10 item 13 (part): Kie's limit is per account, not per key — keys of one account share one budget; a
key that answered 433 (over its own cap) rests and the others carry on. On the real Redis."""

from __future__ import annotations

import uuid

import pytest

from gateways.kie import KieError
from runtime.limits import KieKeyRests, acquire_kie_key, kie_key_health, rest_kie_key
from settings import Settings, SettingsError


def _grants(services, ns: str, accounts: tuple[str, ...], tries: int = 20) -> list[int | None]:
    return [acquire_kie_key(services.redis, key_count=len(accounts), limit=3, window_s=30, namespace=ns,
                            accounts=accounts)[0] for _ in range(tries)]


def test_keys_of_one_account_share_its_budget(services) -> None:
    ns = f"t-{uuid.uuid4().hex[:8]}"
    grants = _grants(services, ns, ("acme", "acme"))
    assert sum(g is not None for g in grants) == 3, grants  # a second key of the account adds nothing
    ns = f"t-{uuid.uuid4().hex[:8]}"
    grants = _grants(services, ns, ("acme", "globex"))
    assert sum(g is not None for g in grants) == 6 and set(grants) == {0, 1, None}


def test_a_key_that_answered_433_rests_and_the_others_carry_on(services) -> None:
    ns = f"t-{uuid.uuid4().hex[:8]}"

    class Over433:
        def create_task(self, *, api_key: str, **kwargs):
            raise KieError("createTask: over the key's cap", code=433, retryable=True)

    client = KieKeyRests(Over433(), services.redis, api_keys=("k0", "k1"), namespace=ns)
    with pytest.raises(KieError):
        client.create_task(api_key="k0", prompt="p")
    health = kie_key_health(services.redis, key_count=2, namespace=ns)
    assert health[0]["resting_s"] > 0 and health[1]["resting_s"] == 0
    grants = _grants(services, ns, ("0", "1"), tries=3)
    assert grants == [1, 1, 1], "the resting key is skipped"
    rest_kie_key(services.redis, index=1, namespace=ns, seconds=30)
    index, wait = acquire_kie_key(services.redis, key_count=2, limit=3, window_s=30, namespace=ns,
                                  accounts=("0", "1"))
    assert index is None and 0 < wait <= 60


def test_accounts_are_configured_per_key() -> None:
    settings = Settings.from_env({"KIE_API_KEYS": "k0,k1,k2", "KIE_KEY_ACCOUNTS": "acme,acme,globex"})
    assert settings.kie_key_accounts == ("acme", "acme", "globex")
    with pytest.raises(SettingsError):
        Settings.from_env({"KIE_API_KEYS": "k0,k1", "KIE_KEY_ACCOUNTS": "acme"})

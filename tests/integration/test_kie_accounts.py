"""Issue 10 item 13: Kie's limit is per account, not per key — keys of one account share one budget; a key that
answered 433 (over its own cap) rests and the others carry on. On the real Redis, and end to end against the Kie
fake, which enforces the account's window and each key's own cap at the wire."""

from __future__ import annotations

import uuid

import pytest

from gateways.kie import KieClient, KieError
from runtime.limits import KieKeyRests, acquire_kie_key, kie_key_health, rest_kie_key
from sandbox.client import SandboxClient
from settings import Settings, SettingsError
from tests.factories import make_avatar, make_paid_payment, make_user
from tests.integration.pipeline_helpers import fast_kie, kie_config, wait_for_job

KEYS = ("sandbox-kie-acme-0", "sandbox-kie-acme-1")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Two keys of one account, as Kie sells them."""
    return settings.with_overrides(kie_api_keys=KEYS, kie_key_accounts=("acme", "acme"))


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

    kie_config(services, api_keys=list(KEYS), key_cap=1)
    kie = KieClient(services.settings.kie_base_url, services.settings.kie_model)
    client = KieKeyRests(kie, services.redis, api_keys=KEYS, namespace=ns)
    client.create_task(api_key=KEYS[0], prompt="the first", image_urls=["http://127.0.0.1:9/selfie.jpg"],
                       callback_url=None)
    with pytest.raises(KieError) as over:  # the fake: this key is over its own cap
        client.create_task(api_key=KEYS[0], prompt="the second", image_urls=["http://127.0.0.1:9/selfie.jpg"],
                       callback_url=None)
    assert over.value.code == 433
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


@pytest.mark.scenario
def test_a_job_completes_on_the_accounts_other_key_when_one_is_capped(services, worker) -> None:
    """End to end: key 0 may make 2 tasks (its own cap at the fake), the job needs 7; the keys take turns until
    key 0 answers 433 and rests, the other key makes the rest — every photo is made, nothing failed, nothing was
    retried forever on the capped key."""
    fast_kie(services)
    kie_config(services, api_keys=list(KEYS), key_accounts=["acme", "acme"], key_cap=2, key_cap_keys=[0])
    user = make_user(services)
    payment = make_paid_payment(services, user, make_avatar(services, user), tier="starter")

    job = wait_for_job(services, payment_id=payment["id"], timeout_s=90)

    assert job["status"] == "delivered" and job["photos_stored"] == 7, job
    state = SandboxClient.from_settings(services.settings).kie.state()
    per_key = [sum(1 for t in state["tasks"] if t["key_index"] == i) for i in (0, 1)]
    assert state["counts"]["rejected_433"] >= 1
    assert per_key == [2, 5], per_key  # key 0 stopped at its cap, the other did the rest
    health = kie_key_health(services.redis, key_count=2, namespace=services.settings.broker_namespace)
    assert [key["key_index"] for key in health if key["resting_s"] > 0] == [0], health


def test_keys_take_turns(services) -> None:
    """Grants rotate over the keys with budget (each key carries its share of the tasks, and so of their
    recordInfo polls, which Kie limits per key); a full or resting key is passed over."""
    ns = f"t-{uuid.uuid4().hex[:8]}"
    grants = [acquire_kie_key(services.redis, key_count=3, limit=4, window_s=30, namespace=ns,
                              accounts=("0", "1", "2"))[0] for _ in range(9)]
    assert sorted(grants[:3]) == [0, 1, 2] and grants[3:6] == grants[:3] and grants[6:] == grants[:3], grants
    rest_kie_key(services.redis, index=grants[0], namespace=ns, seconds=30)
    later = [acquire_kie_key(services.redis, key_count=3, limit=4, window_s=30, namespace=ns,
                             accounts=("0", "1", "2"))[0] for _ in range(4)]
    assert grants[0] not in later and sorted(later[:2]) == sorted(set(grants) - {grants[0]}), later
    assert later.count(None) == 2  # the other two keys' 4th grants, then nothing: each key's window is full

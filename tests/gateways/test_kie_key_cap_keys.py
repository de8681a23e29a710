"""The Kie fake's ``key_cap_keys`` (issue 13's chaos run: one sub-key exhausted while the others work): the cap
applies to the listed keys only, and a key index outside ``api_keys`` is refused."""

from __future__ import annotations

from sandbox.client import SandboxClient
from tests.gateways.kie_harness import Kie, raises


def test_only_the_listed_key_is_capped(kie: Kie) -> None:
    kie.configure(api_keys=["k-1", "k-2"], key_accounts=["acme", "acme"], key_cap=1, key_cap_keys=[0],
                  rate_limit=20)
    kie.create(key="k-1")
    err = raises(lambda: kie.create(key="k-1"))
    assert err.code == 433
    for _ in range(3):  # the other key has no cap at all
        assert kie.create(key="k-2")
    assert kie.state()["counts"]["rejected_433"] == 1


def test_a_key_index_outside_the_keys_is_refused(kie: Kie) -> None:
    answer = SandboxClient(kie=kie.url).kie.post("config", {"api_keys": ["k-1"], "key_cap": 1, "key_cap_keys": [3]})
    assert answer.status_code == 400 and "key_cap_keys" in answer.json()["error"]

"""The Kie.ai gateway against the Kie.ai fake on loopback: the success path, and every error and its classification."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask, Response
from PIL import Image

from gateways.kie import KieClient, KieTaskInfo, parse_task_info
from sandbox.server import serve
from tests.gateways.kie_harness import MODEL, Kie, raises

# --- success path -----------------------------------------------------------------------------------------------

def test_task_succeeds_with_a_downloadable_png_carrying_the_prompt(kie: Kie) -> None:
    prompt = "Портрет в стиле нуар, soft light, " + "x" * 300
    task_id = kie.create(prompt=prompt)

    info = kie.wait_terminal(task_id)

    assert info.succeeded and not info.failed and info.task_id == task_id
    assert info.create_time_ms and info.complete_time_ms and info.complete_time_ms >= info.create_time_ms
    assert info.cost_time_ms is not None and info.fail_code is None
    assert len(info.result_urls) == 1
    download = requests.get(info.result_urls[0], timeout=5)
    assert download.status_code == 200 and download.headers["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(download.content))
    assert image.format == "PNG" and image.size == (384, 512)
    assert image.text["prompt"] == prompt and image.text["task_id"] == task_id
    state = kie.state()
    assert [f["url"] for f in state["fetches"]] == [kie.peer.ref("selfie.png")] and state["fetches"][0]["ok"]


def test_request_carries_model_callback_and_aspect_ratio_but_not_image_size(kie: Kie) -> None:
    task_id = kie.create(callback_url=f"{kie.peer.url}/callback", aspect_ratio="1:1", output_format="jpeg")
    raw = requests.get(f"{kie.url}/api/v1/jobs/recordInfo", params={"taskId": task_id},
                       headers={"Authorization": "Bearer key-a"}, timeout=5).json()

    param = json.loads(raw["data"]["param"])  # the documented quirk: the original request as a JSON string

    assert param["model"] == MODEL and param["callBackUrl"] == f"{kie.peer.url}/callback"
    assert param["input"]["aspect_ratio"] == "1:1" and "image_size" not in param["input"]
    assert param["input"]["output_format"] == "jpeg"
    assert kie.state()["tasks"][0]["key_index"] == 0 and "key-a" not in json.dumps(kie.state())


def test_jpeg_output_carries_the_prompt_in_its_comment(kie: Kie) -> None:
    task_id = kie.create(prompt="studio portrait, jpeg please", output_format="jpeg", aspect_ratio="9:16")

    info = kie.wait_terminal(task_id)

    image = Image.open(io.BytesIO(requests.get(info.result_urls[0], timeout=5).content))
    assert image.format == "JPEG" and image.size == (288, 512)
    assert image.info["comment"].decode() == "studio portrait, jpeg please"


@pytest.mark.parametrize("as_object", [False, True])
def test_result_json_is_parsed_whether_string_or_object(kie: Kie, as_object: bool) -> None:
    kie.configure(result_json_as_object=as_object)
    task_id = kie.create()
    info = kie.wait_terminal(task_id)

    raw = requests.get(f"{kie.url}/api/v1/jobs/recordInfo", params={"taskId": task_id},
                       headers={"Authorization": "Bearer key-a"}, timeout=5).json()["data"]["resultJson"]

    assert isinstance(raw, dict) is as_object
    urls = raw["resultUrls"] if as_object else json.loads(raw)["resultUrls"]
    assert info.result_urls == tuple(urls) and info.result_urls[0].startswith(f"{kie.url}/files/{task_id}.png")


def test_parse_task_info_tolerates_missing_fields_and_reads_callback_envelopes() -> None:
    bare = parse_task_info({"taskId": "t1", "state": "generating", "resultJson": "", "failCode": None})
    assert bare == KieTaskInfo(task_id="t1", state="generating") and not bare.is_terminal
    listed = parse_task_info({"taskId": "t2", "state": "success", "param": "{\"model\": \"m\"}",
                              "resultJson": "{\"resultUrls\": [\"https://a/1.png\", \"https://a/2.png\"]}",
                              "costTime": "1500", "createTime": 1700000000000})
    assert listed.result_urls == ("https://a/1.png", "https://a/2.png") and listed.cost_time_ms == 1500
    envelope = parse_task_info({"code": 501, "msg": "failed", "data": {"taskId": "t3", "failCode": 500,
                                                                        "failMsg": "boom", "resultJson": None}})
    assert envelope.failed and envelope.fail_code == "500" and envelope.fail_msg == "boom"
    assert raises(lambda: parse_task_info({"state": "success"})).retryable is False


def test_credit_returns_the_balance_and_each_task_costs_one(kie: Kie) -> None:
    kie.configure(credits=50)
    kie.create(key="key-credit")

    assert kie.client.credit(api_key="key-credit") == 49.0
    assert kie.client.credit(api_key="key-fresh") == 50.0


def test_api_key_is_never_logged(kie: Kie, caplog: pytest.LogCaptureFixture) -> None:
    secret = "sk-very-secret-kie-key"
    with caplog.at_level(logging.DEBUG):
        task_id = kie.create(key=secret)
        kie.wait_terminal(task_id, key=secret)
        raises(lambda: kie.client.record_info(api_key=secret, task_id="nope"))

    assert any(getattr(r, "event", "") == "kie_task_created" for r in caplog.records)
    assert all(secret not in repr(vars(record)) for record in caplog.records)


def test_task_is_not_terminal_and_has_no_result_before_its_latency(kie: Kie) -> None:
    kie.configure(latency_ms_min=300, latency_ms_max=300)
    task_id = kie.create()

    early = kie.client.record_info(api_key="key-a", task_id=task_id)

    assert early.state in ("waiting", "generating") and not early.is_terminal and early.result_urls == ()
    assert early.complete_time_ms is None
    assert kie.wait_terminal(task_id).succeeded


# --- errors and their classification ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def scripted() -> Iterator[dict[str, Any]]:
    """A stand-in Kie answering whatever the test scripts: for envelope shapes the fake never produces."""
    script: dict[str, Any] = {}
    app = Flask("kie-scripted")

    @app.get("/api/v1/chat/credit")
    def credit() -> Response:
        return Response(script["body"], status=script.get("status", 200), headers=script.get("headers", {}),
                        mimetype="application/json")

    handle = serve("kie-scripted", app, port=0)
    script["url"] = handle.url
    yield script
    handle.stop()


@pytest.mark.parametrize("body, status, headers, code, retryable, retry_after", [
    ({"code": 433, "msg": "sub-key limit"}, 200, {}, 433, True, None),
    ({"code": 505, "message": "feature disabled"}, 200, {}, 505, False, None),
    ({"code": 404, "msg": "not found"}, 404, {}, 404, False, None),
    ({"code": 501, "msg": "generation failed"}, 200, {}, 501, False, None),
    ({"code": 503, "msg": "busy"}, 200, {}, 503, True, None),
    ({"code": "429", "msg": "slow down"}, 200, {"Retry-After": "7"}, 429, True, 7.0),
    ({"code": 429, "msg": "slow down", "data": {"retryAfter": 2.5}}, 429, {}, 429, True, 2.5),
    ({"msg": "no code at all"}, 200, {}, None, False, None),
    ({"msg": "no code at all"}, 503, {}, None, True, None),
    ("<html>oops</html>", 403, {}, None, False, None),
])
def test_error_classification_follows_the_envelope_code(scripted: dict[str, Any], body: Any, status: int,
                                                        headers: dict[str, str], code: int | None, retryable: bool,
                                                        retry_after: float | None) -> None:
    scripted.update(body=body if isinstance(body, str) else json.dumps(body), status=status, headers=headers)
    client = KieClient(scripted["url"], MODEL)

    err = raises(lambda: client.credit(api_key="k"))

    assert (err.code, err.retryable, err.retry_after, err.http_status) == (code, retryable, retry_after, status)
    assert err.out_of_credits is False


def test_transport_failure_is_retryable() -> None:
    err = raises(lambda: KieClient("http://127.0.0.1:9", MODEL).credit(api_key="k"))

    assert err.retryable and err.code is None


def test_unknown_key_is_401_permanent(kie: Kie) -> None:
    kie.configure(api_keys=["key-a"])

    err = raises(lambda: kie.create(key="key-stranger"))

    assert err.code == 401 and not err.retryable and err.http_status == 200
    assert kie.state()["counts"]["rejected_401"] == 1 and kie.state()["tasks"] == []


def test_mirrored_http_status_is_classified_the_same(kie: Kie) -> None:
    kie.configure(api_keys=["key-a"], mirror_http_status=True)

    err = raises(lambda: kie.create(key="key-stranger"))

    assert err.code == 401 and err.http_status == 401 and not err.retryable


def test_out_of_credits_is_402_flagged_and_permanent(kie: Kie) -> None:
    kie.configure(credits=2)
    kie.create(key="key-poor")
    kie.create(key="key-poor")

    err = raises(lambda: kie.create(key="key-poor"))

    assert err.code == 402 and err.out_of_credits and not err.retryable
    assert kie.client.credit(api_key="key-poor") == 0.0 and kie.state()["counts"]["created"] == 2


@pytest.mark.parametrize("prompt, urls", [("p", []), ("p", ["http://127.0.0.1:1/x.png"] * 11),
                                          ("p" * 5001, ["http://127.0.0.1:1/x.png"]), ("   ", ["u"])])
def test_invalid_input_is_refused_locally_with_422_and_nothing_sent(kie: Kie, prompt: str, urls: list[str]) -> None:
    err = raises(lambda: kie.create(prompt=prompt, image_urls=urls))

    assert err.code == 422 and not err.retryable and err.http_status is None
    assert kie.state()["counts"]["create_calls"] == 0


@pytest.mark.parametrize("body", [
    {"model": MODEL, "input": {"image_urls": ["http://127.0.0.1:1/a.png"]}},
    {"model": MODEL, "input": {"prompt": "p", "image_urls": []}},
    {"model": MODEL, "input": {"prompt": "p", "image_urls": ["http://127.0.0.1:1/a.png"] * 11}},
    {"model": MODEL, "input": {"prompt": "p" * 5001, "image_urls": ["http://127.0.0.1:1/a.png"]}},
])
def test_fake_rejects_invalid_create_with_422_inside_http_200(kie: Kie, body: dict[str, Any]) -> None:
    response = requests.post(f"{kie.url}/api/v1/jobs/createTask", json=body,
                             headers={"Authorization": "Bearer key-a"}, timeout=5)

    assert response.status_code == 200 and response.json()["code"] == 422
    assert kie.state()["counts"]["rejected_422"] == 1 and kie.state()["tasks"] == []


def test_record_info_of_unknown_or_foreign_task_is_422_permanent(kie: Kie) -> None:
    task_id = kie.create(key="key-owner")

    foreign = raises(lambda: kie.client.record_info(api_key="key-other", task_id=task_id))
    unknown = raises(lambda: kie.client.record_info(api_key="key-owner", task_id="no-such-task"))

    for err in (foreign, unknown):
        assert err.code == 422 and not err.retryable and "recordInfo is null" in err.message
    assert kie.client.record_info(api_key="key-owner", task_id=task_id).task_id == task_id


def test_create_task_over_limit_is_rejected_with_429_and_dropped(kie: Kie) -> None:
    kie.configure(rate_limit=3, rate_window_s=10)
    created = [kie.create(key="key-busy") for _ in range(3)]

    err = raises(lambda: kie.create(key="key-busy", prompt="the fourth"))

    assert err.code == 429 and err.retryable and err.retry_after is None
    state = kie.state()
    assert state["counts"]["rejected_429"] == 1 and state["counts"]["created"] == 3
    assert sorted(t["task_id"] for t in state["tasks"]) == sorted(created)
    assert all(t["prompt"] != "the fourth" for t in state["tasks"])
    assert kie.create(key="key-calm")  # keys not configured into accounts are each their own account


def test_keys_of_one_account_share_its_window(kie: Kie) -> None:
    kie.configure(api_keys=["k-a1", "k-a2", "k-b"], key_accounts=["acme", "acme", "globex"], rate_limit=3)
    for key in ("k-a1", "k-a1", "k-a2"):
        kie.create(key=key)

    err = raises(lambda: kie.create(key="k-a2"))  # a second key of the account adds no budget

    assert err.code == 429 and err.retryable
    assert kie.create(key="k-b")  # another account has its own window
    assert kie.state()["counts"]["rejected_429"] == 1


def test_a_key_over_its_own_cap_answers_433_and_makes_nothing(kie: Kie) -> None:
    kie.configure(api_keys=["k-1", "k-2"], key_accounts=["acme", "acme"], key_cap=2, rate_limit=20)
    kie.create(key="k-1")
    kie.create(key="k-1")

    err = raises(lambda: kie.create(key="k-1", prompt="over the cap"))

    assert err.code == 433 and err.retryable
    assert kie.create(key="k-2")  # the cap is the key's own: the account's other key still works
    state = kie.state()
    assert state["counts"]["rejected_433"] == 1 and state["counts"]["created"] == 3
    assert all(t["prompt"] != "over the cap" for t in state["tasks"])


def test_a_task_upstream_never_finished_ends_with_408(kie: Kie) -> None:
    """Kie's 408: upstream gave no result for over 10 minutes, terminal for that task (a fault rule here)."""
    kie.control("fail", {"method": "task", "error_code": 408})
    info = kie.wait_terminal(kie.create())
    assert info.state == "fail" and info.fail_code == "408"


def test_rate_window_slides_and_can_name_a_retry_after(kie: Kie) -> None:
    kie.configure(rate_limit=1, rate_window_s=0.3, retry_after_hint=True)
    kie.create(key="key-busy")

    err = raises(lambda: kie.create(key="key-busy"))

    assert err.code == 429 and err.retry_after is not None and 0 < err.retry_after <= 1
    time.sleep(0.35)
    assert kie.create(key="key-busy")


def test_record_info_over_its_limit_is_429_retryable(kie: Kie) -> None:
    kie.configure(record_info_rate_limit=2)
    task_id = kie.create()
    kie.client.record_info(api_key="key-a", task_id=task_id)
    kie.client.record_info(api_key="key-a", task_id=task_id)

    err = raises(lambda: kie.client.record_info(api_key="key-a", task_id=task_id))

    assert err.code == 429 and err.retryable and kie.state()["counts"]["record_info_429"] == 1


def test_maintenance_455_rule_hits_the_first_matching_calls_then_behaves(kie: Kie) -> None:
    kie.control("fail", [{"method": "createTask", "match": "castle", "times": 2, "error_code": 455}])

    errors = [raises(lambda: kie.create(prompt="a castle at dusk")) for _ in range(2)]
    other = kie.create(prompt="a beach")
    third = kie.create(prompt="a castle at dusk")

    assert all(e.code == 455 and e.retryable and e.http_status == 200 for e in errors)
    state = kie.state()
    assert state["counts"]["failures"]["455"] == 2 and state["faults"][0]["remaining"] == 0
    assert {t["task_id"] for t in state["tasks"]} == {other, third}


def test_server_error_500_is_retryable(kie: Kie) -> None:
    kie.configure(error_500_rate=1.0)

    err = raises(lambda: kie.create())

    assert err.code == 500 and err.retryable and err.http_status == 500
    assert kie.state()["counts"]["created"] == 0


def test_error_code_inside_http_200_is_classified_by_the_envelope(kie: Kie) -> None:
    kie.control("fail", [{"method": "createTask", "times": 1, "error_code": 500, "http_status": 200}])

    err = raises(lambda: kie.create())

    assert err.http_status == 200 and err.code == 500 and err.retryable


def test_http200_error_rate_also_hits_record_info(kie: Kie) -> None:
    task_id = kie.create()
    kie.configure(http200_error_rate=1.0)

    err = raises(lambda: kie.client.record_info(api_key="key-a", task_id=task_id))

    assert err.http_status == 200 and err.code == 500 and err.retryable


def test_non_json_502_page_is_retryable(kie: Kie) -> None:
    kie.control("fail", {"method": "createTask", "match": "gw", "http_status": 502,
                         "body": "<html><body><h1>502 Bad Gateway</h1></body></html>"})

    err = raises(lambda: kie.create(prompt="gw trouble"))

    assert err.retryable and err.http_status == 502 and err.code is None


def test_fail_rule_ends_the_task_in_fail_with_fail_code(kie: Kie) -> None:
    kie.control("fail", [{"method": "task", "match": "doomed", "times": 1}])
    doomed = kie.create(prompt="a doomed portrait")
    spared = kie.create(prompt="a doomed portrait, second try")

    failed, succeeded = kie.wait_terminal(doomed), kie.wait_terminal(spared)

    assert failed.failed and failed.fail_code == "500" and failed.fail_msg and failed.result_urls == ()
    assert succeeded.succeeded and kie.state()["counts"]["failures"]["fail"] == 1


def test_fail_rate_makes_tasks_fail(kie: Kie) -> None:
    kie.configure(fail_rate=1.0)

    info = kie.wait_terminal(kie.create())

    assert info.failed and info.fail_code


@pytest.mark.parametrize("ref, reason", [("missing.png", "HTTP 404"), ("notes.txt", "not an image")])
def test_dead_reference_url_makes_the_task_fail(kie: Kie, ref: str, reason: str) -> None:
    urls = [kie.peer.ref("selfie.png"), kie.peer.ref(ref)]

    info = kie.wait_terminal(kie.create(image_urls=urls))

    assert info.failed and info.fail_code == "422" and "image_urls[1]" in (info.fail_msg or "")
    assert reason in (info.fail_msg or "")
    fetches = kie.state()["fetches"]
    assert [(f["url"], f["ok"]) for f in fetches] == [(urls[0], True), (urls[1], False)]
    assert kie.state()["counts"]["failures"]["fetch"] == 1


def test_result_url_stops_working_after_its_ttl(kie: Kie) -> None:
    kie.configure(result_ttl_s=0.3)
    url = kie.wait_terminal(kie.create()).result_urls[0]
    assert requests.get(url, timeout=5).status_code == 200

    time.sleep(0.35)

    assert requests.get(url, timeout=5).status_code == 403
    assert requests.get(url.replace("/files/", "/files/x"), timeout=5).status_code == 404




def test_reference_reuse_fetches_a_fresh_url_once_and_an_expired_one_again(kie: Kie) -> None:
    """``reference_reuse_s`` (make bench's throughput part only): a URL fetched fine is not fetched again within
    it — unless its presigned life (X-Amz-Date + X-Amz-Expires) ended meanwhile. Off by default: every task
    fetches (the other tests)."""
    kie.configure(reference_reuse_s=60)
    fresh = kie.peer.ref("selfie.png")
    signed = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() - 3600))
    expired = f"{kie.peer.ref('selfie.png')}?X-Amz-Date={signed}&X-Amz-Expires=60"

    for _ in range(2):
        assert kie.wait_terminal(kie.create(image_urls=[fresh, expired])).succeeded

    fetches = [(f["url"], bool(f.get("reused"))) for f in kie.state()["fetches"]]
    assert fetches == [(fresh, False), (expired, False), (fresh, True), (expired, False)]

"""Schemathesis against /api/openapi.json: every documented operation, fed schema-valid and schema-breaking
input with a valid Mini App user, never answers 5xx and never answers anything its schema does not describe
(status, content type, headers, body). Bounded: 25 examples per operation and mode, no shrinking."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from db import photos
from runtime.limits import ApiLimit
from tests.factories import make_avatar, make_user
from tests.web.api_helpers import auth, confirmed_payment, make_delivered_job

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
EXAMPLES = 25


def _fuzz(operation: Any, mode: schemathesis.GenerationMode, headers: dict[str, str],
          path_parameters: dict[str, Any] | None = None, examples: int = EXAMPLES) -> None:
    strategy = operation.as_strategy(generation_mode=mode, headers=headers, path_parameters=path_parameters)

    @hypothesis_settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                         phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    try:
        run()
    except Unsatisfiable:
        if mode is not schemathesis.GenerationMode.NEGATIVE:
            raise
        # nothing of this operation can be made invalid (no parameters, no body): there is no negative case
    except BaseException as exc:
        exc.add_note(f"operation: {operation.label}, mode: {mode.value}, fixed path: {path_parameters}")
        raise


@pytest.mark.scenario
def test_no_operation_answers_5xx_or_outside_its_schema(app, settings, services) -> None:
    app.config["API_RATE_LIMIT"] = ApiLimit(rate_per_s=100_000, burst=100_000)  # the fuzzer is one very busy user
    user = make_user(services)
    avatar = make_avatar(services, user, references=5)
    job = make_delivered_job(services, user, avatar)
    payment = confirmed_payment(services, user, avatar)
    with services.pool.connection() as conn:
        photo = photos.photos_of_job(conn, job_id=job["id"])[0]
    real_ids = {"avatar_id": avatar["id"], "job_id": job["id"], "payment_id": payment["id"], "photo_id": photo["id"]}
    headers = auth(settings, user)

    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 28

    runs: list[Callable[[], None]] = []
    for operation in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            runs.append(lambda op=operation, m=mode: _fuzz(op, m, headers))
        names = {parameter.name for parameter in operation.path_parameters}
        # The same operation on resources that exist, so success answers are held to the schema too; erasing
        # the avatar goes last, since everything else depends on it.
        fixed = {name: real_ids[name] for name in names if name in real_ids}
        erases_avatar = operation.method.upper() == "DELETE" and operation.path.endswith("{avatar_id}")
        if fixed and not erases_avatar:
            runs.insert(0, lambda op=operation, f=fixed: _fuzz(op, schemathesis.GenerationMode.POSITIVE, headers,
                                                               path_parameters=f, examples=10))
    for run in runs:
        run()

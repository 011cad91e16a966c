"""Property-based contract test: every operation of the live spec, fuzzed with schemathesis.

The operations come from the live spec; requests go in-process (ASGI) to an app on a fresh, migrated
database of the run's dialect, with a token carrying every scope. Each operation gets valid
(positive) and invalid (negative) inputs. Checks: no 5xx, only documented status codes, documented
content types, and bodies that match their documented schema. Bounded (max_examples per operation and
mode) so the module stays around a minute on two cores.

schemathesis' own pytest integration (`schema.parametrize()`, `from_fixture`) does not run on pytest 9
yet, so the operations are parametrized here and each gets a plain Hypothesis `@given`.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.auth.scopes import Scope
from app.auth.tokens import create_access_token
from app.main import create_app
from app.settings import Settings
from tests.conftest import MAIN_DIALECT, create_database, make_settings, migrate

pytestmark = pytest.mark.slow

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Prometheus text, not JSON; covered by tests/test_health.py.
EXCLUDED_PATHS = {"/metrics"}

SCHEMA = schemathesis.openapi.from_dict(create_app(Settings(database_url="sqlite:///:memory:")).openapi())


def _operations() -> list[schemathesis.APIOperation]:
    """Every operation in the spec; one schemathesis cannot read fails collection instead of going untested."""
    operations = []
    for result in SCHEMA.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        if result.ok().path not in EXCLUDED_PATHS:
            operations.append(result.ok())
    return operations


OPERATIONS = _operations()


@pytest.fixture(scope="module")
def contract_app(tmp_path_factory):
    db = create_database(MAIN_DIALECT, str(tmp_path_factory.mktemp("contract")))
    # A high token-failure limit: the fuzzer's wrong client secrets must not turn later cases into 429s.
    app_settings = make_settings(db.url, token_failures_per_minute=1_000_000, log_level="CRITICAL")
    migrate(app_settings)
    app = create_app(app_settings)
    SCHEMA.app = app  # selects the in-process ASGI transport
    token = create_access_token(app_settings, sub="schemathesis", scopes=[s.value for s in Scope])
    yield app, f"Bearer {token}"
    SCHEMA.app = None
    app.state.engine.dispose()
    app.state.read_engine.dispose()
    db.drop()


def _run(operation, mode, app, authorization):
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case):
        case.call_and_validate(app=app, headers={"Authorization": authorization}, checks=CHECKS)

    check()


def _has_inputs(operation) -> bool:
    raw = operation.definition.raw
    return bool(raw.get("parameters") or raw.get("requestBody"))


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"])
@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_operation_conforms_to_its_spec(contract_app, operation, mode):
    if mode == GenerationMode.NEGATIVE and not _has_inputs(operation):
        pytest.skip("no inputs to make invalid")
    _run(operation, mode, *contract_app)

"""Several instances, one PostgreSQL: the guarantees hold across independent server processes.

Two `uvicorn --workers 2` instances (four worker processes, all running the background sealer)
share one fresh PostgreSQL schema. Concurrent escalation advances split across them give exactly
one success; an Idempotency-Key and the token-failure limit are honoured whichever instance a
retry reaches; the audit chain stays one unbroken line with every screening and incident sealed once; and
SIGKILLing one instance's whole process group loses no write either instance acknowledged while
the other keeps serving. Incidents are sealed by the same four sealers: each exactly once, in one
unforked chain. The tests run in file order on one pair of servers (the kill comes last).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, create_engine
from sqlmodel import Session

from app.audit import service as audit
from app.auth.tokens import create_access_token
from app.screening.sealing import verify_seals
from tests.conftest import create_database, make_settings, migrate
from tests.hardening.server import Server
from tests.incidents.factories import incident_body

pytestmark = pytest.mark.slow

SCOPES = [
    "screenings:write", "screenings:read", "incidents:write", "incidents:read",
    "escalations:read", "escalations:write",
]  # fmt: skip
SEAL_INTERVAL = "0.2"  # every worker seals often, so the four sealers really contend


@dataclass
class Cluster:
    """Two instances on one database, a token they both accept, and a direct engine for checks."""

    a: Server
    b: Server
    headers: dict[str, str]
    engine: Engine

    @property
    def instances(self) -> tuple[Server, Server]:
        return (self.a, self.b)

    def scalar(self, sql: str, **params: object) -> object:
        with self.engine.connect() as connection:
            return connection.execute(sa.text(sql), params).scalar_one()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("multi")
    db = create_database("postgresql", str(tmp))  # skips, saying why, without PostgreSQL
    settings = make_settings(db.url)
    migrate(settings)
    servers = [
        Server(
            db.url,
            tmp / f"{name}.log",
            workers=2,
            env={"POLICY_AUDIT_SEAL_INTERVAL_SECONDS": SEAL_INTERVAL, "PROMETHEUS_MULTIPROC_DIR": str(tmp / name)},
        )
        for name in ("a", "b")
    ]
    engine = create_engine(db.url)
    try:
        with ThreadPoolExecutor(2) as pool:  # start both at once: each start loads the screener
            list(pool.map(lambda s: s.start(timeout=60), servers))
        token = create_access_token(settings, sub="multi-instance", scopes=SCOPES)
        yield Cluster(servers[0], servers[1], {"Authorization": f"Bearer {token}"}, engine)
    finally:
        for server in servers:
            server.stop()
        engine.dispose()
        db.drop()


def _post(server: Server, headers: dict[str, str], path: str, body: dict, **extra: str) -> httpx.Response:
    return httpx.post(server.base_url + path, json=body, headers={**headers, **extra}, timeout=30)


def test_one_advance_succeeds_among_twenty_split_across_instances(cluster):
    created = _post(cluster.a, cluster.headers, "/v1/incidents", incident_body("multi-race"))
    assert created.status_code == 201, created.text
    version = created.json()["case"]["version"]
    barrier = threading.Barrier(20)

    def advance(i: int) -> int:
        server = cluster.instances[i % 2]
        barrier.wait()
        body = {"reason": f"Repeated derogatory posts (attempt {i})."}
        return _post(
            server, cluster.headers, "/v1/escalations/multi-race/advance", body, **{"If-Match": f'"{version}"'}
        ).status_code

    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(advance, range(20)))
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 409, 412}, statuses
    case = httpx.get(cluster.b.base_url + "/v1/escalations/multi-race", headers=cluster.headers, timeout=30).json()
    assert (case["stage"], case["version"]) == ("spoken_to", version + 1)
    assert [e["to_stage"] for e in case["history"]].count("spoken_to") == 1, case["history"]
    steps = cluster.scalar(
        "SELECT count(*) FROM escalation_event e JOIN escalation_case c ON c.id = e.case_id "
        "WHERE c.subject_id = 'multi-race' AND e.to_stage = 'spoken_to'"
    )
    assert steps == 1


def test_an_idempotency_key_is_honoured_by_both_instances(cluster):
    body, key = incident_body("multi-idem"), str(uuid.uuid4())
    barrier = threading.Barrier(10)

    def send(i: int) -> httpx.Response:
        barrier.wait()  # first use of the key on both instances at once
        return _post(cluster.instances[i % 2], cluster.headers, "/v1/incidents", body, **{"Idempotency-Key": key})

    with ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(send, range(10)))
    assert [r.status_code for r in responses] == [201] * 10, [r.text[:200] for r in responses]
    assert len({json.dumps(r.json(), sort_keys=True) for r in responses}) == 1  # the same answer
    assert len({r.headers["location"] for r in responses}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 9
    # A later retry on the other instance replays too.
    again = _post(cluster.b, cluster.headers, "/v1/incidents", body, **{"Idempotency-Key": key})
    assert (again.status_code, again.json()["id"]) == (201, responses[0].json()["id"])
    assert cluster.scalar("SELECT count(*) FROM incident WHERE subject_id = 'multi-idem'") == 1
    assert cluster.scalar("SELECT count(*) FROM idempotency_record WHERE key = :k", k=key) == 1


def test_the_token_failure_limit_counts_attempts_on_both_instances(cluster):
    form = {"grant_type": "client_credentials", "client_id": "no-such-client", "client_secret": "wrong"}
    barrier = threading.Barrier(24)

    def attempt(i: int, *, together: bool) -> int:
        if together:
            barrier.wait()
        return httpx.post(cluster.instances[i % 2].base_url + "/v1/auth/token", data=form, timeout=30).status_code

    # A burst on both instances at once, then one attempt at a time until the limit answers.
    with ThreadPoolExecutor(24) as pool:
        statuses = list(pool.map(lambda i: attempt(i, together=True), range(24)))
    assert set(statuses) <= {401, 429}, statuses
    for i in range(12):
        statuses.append(attempt(i, together=False))
        if statuses[-1] == 429:
            break
    # The default limit is 10 a minute, whichever instances the attempts reach and however timed.
    assert statuses.count(401) == 10, statuses
    assert [attempt(i, together=False) for i in range(2)] == [429, 429]


def _screening(n: int) -> dict:
    return {
        "text": f"Post {n}: lovely afternoon at the centre with the volunteers.",
        "author": {"id": f"multi-author-{n % 5}", "role": "volunteer"},
        "platform": "facebook",
    }


def _wait_until_sealed(cluster: Cluster, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while cluster.scalar(
        "SELECT (SELECT count(*) FROM screening WHERE audit_seq IS NULL)"
        " + (SELECT count(*) FROM incident WHERE audit_seq IS NULL)"
    ):
        assert time.monotonic() < deadline, "screenings or incidents left unsealed by four running sealers"
        time.sleep(0.2)


def _assert_chain_intact(cluster: Cluster) -> None:
    with Session(cluster.engine) as session:
        chain = audit.verify(session)
        assert chain.ok, chain
        seals = verify_seals(session)
        assert seals.ok, seals
    with cluster.engine.connect() as connection:
        seqs = connection.execute(sa.text("SELECT seq FROM audit_event ORDER BY seq")).scalars().all()
        forks = connection.execute(
            sa.text("SELECT count(*) FROM (SELECT prev_hash FROM audit_event GROUP BY prev_hash HAVING count(*) > 1) f")
        ).scalar_one()
        sealed_total = connection.execute(
            sa.text(
                "SELECT coalesce(sum(CAST(details->>'count' AS INTEGER)), 0) FROM audit_event WHERE action = 'screenings.sealed'"
            )
        ).scalar_one()
        screenings = connection.execute(sa.text("SELECT count(*) FROM screening")).scalar_one()
        incident_ids = connection.execute(sa.text("SELECT CAST(id AS TEXT) FROM incident")).scalars().all()
        sealed_incidents = (
            connection.execute(
                sa.text(
                    "SELECT entry->>1 FROM audit_event, json_array_elements(details->'rows') AS entry "
                    "WHERE action = 'incidents.sealed'"
                )
            )
            .scalars()
            .all()
        )
        refused = connection.execute(sa.text("SELECT count(*) FROM incident WHERE audit_seq = 0")).scalar_one()
    assert sorted(sealed_incidents) == sorted(incident_ids), "an incident is sealed twice, or not at all"
    assert refused == 0
    assert seqs == list(range(1, len(seqs) + 1)), "the audit sequence has a gap or a duplicate"
    assert forks == 0, "two events chain onto the same predecessor"
    assert sealed_total == screenings, f"seals cover {sealed_total} screenings; {screenings} are stored"


def test_four_sealers_and_concurrent_writers_keep_one_unforked_chain(cluster):
    def write(n: int) -> int:
        server = cluster.instances[n % 2]
        if n % 3:
            return _post(server, cluster.headers, "/v1/screenings", _screening(n)).status_code
        return _post(server, cluster.headers, "/v1/incidents", incident_body(f"multi-chain-{n % 4}")).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(write, range(90)))
    assert statuses == [201] * 90, statuses
    _wait_until_sealed(cluster)
    _assert_chain_intact(cluster)
    seals = cluster.scalar("SELECT count(*) FROM audit_event WHERE action = 'screenings.sealed'")
    assert 1 <= seals <= 60  # several batches, each sealed once
    incident_seals = cluster.scalar("SELECT count(*) FROM audit_event WHERE action = 'incidents.sealed'")
    assert 1 <= incident_seals <= 30


def _load(
    cluster: Cluster,
    stop: threading.Event,
    acked: list[tuple[str, str]],
    counter: Iterator[int],
    after_kill: list[int],
) -> None:
    """A client behind a load balancer: alternate instances, fail over when one is gone."""
    first = cluster.a.process
    assert first is not None, "the cluster fixture starts both instances"
    clients = [httpx.Client(base_url=s.base_url, headers=cluster.headers, timeout=10) for s in cluster.instances]
    try:
        while not stop.is_set():
            n = next(counter)
            kind, path, body = (
                ("screening", "/v1/screenings", _screening(n))
                if n % 2
                else ("incident", "/v1/incidents", incident_body(f"multi-kill-{n % 6}"))
            )
            key = str(uuid.uuid4())  # one logical request: a retry on the other instance keeps its key
            for client in (clients[n % 2], clients[(n + 1) % 2]):
                try:
                    response = client.post(path, json=body, headers={"Idempotency-Key": key})
                except httpx.HTTPError:
                    continue  # that instance is gone: the other one takes the request
                if response.status_code == 201:
                    acked.append((kind, response.json()["id"]))
                    if client is clients[1] and first.poll() is not None:
                        after_kill.append(n)
                else:
                    acked.append(("error", f"{response.status_code} {response.text[:200]}"))
                break
    finally:
        for client in clients:
            client.close()


def test_sigkill_one_instance_the_other_serves_and_nothing_acknowledged_is_lost(cluster):
    stop, counter = threading.Event(), itertools.count()
    acked: list[tuple[str, str]] = []
    after_kill: list[int] = []
    threads = [threading.Thread(target=_load, args=(cluster, stop, acked, counter, after_kill)) for _ in range(6)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 20
        while len(acked) < 40:
            assert time.monotonic() < deadline, f"too few writes acknowledged: {acked[:5]}"
            time.sleep(0.05)
        cluster.a.kill()  # the whole process group, mid-load: requests are in flight on it
        deadline = time.monotonic() + 20
        while len(after_kill) < 30:
            assert time.monotonic() < deadline, f"instance b served only {len(after_kill)} writes after the kill"
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

    errors = [detail for kind, detail in acked if kind == "error"]
    assert errors == [], errors[:5]
    stored = {kind: [ident for k, ident in acked if k == kind] for kind in ("screening", "incident")}
    for kind, table in (("screening", "screening"), ("incident", "incident")):
        ids = stored[kind]
        with cluster.engine.connect() as connection:
            found = connection.execute(
                sa.text(f"SELECT count(*) FROM {table} WHERE CAST(id AS TEXT) IN :ids").bindparams(  # noqa: S608
                    sa.bindparam("ids", expanding=True)
                ),
                {"ids": ids},
            ).scalar_one()
        assert found == len(ids), f"{len(ids) - found} of {len(ids)} acknowledged {kind}s are missing"
    # The survivor's sealers pick up what the dead instance stored but never sealed.
    _wait_until_sealed(cluster)
    _assert_chain_intact(cluster)

"""Nothing a screening redacts survives anywhere: responses, the database file, idempotency replays, logs.

Posts name children with full names and ages, phone numbers (plain, with the letter O for zero, in
Arabic-Indic digits), a National Insurance number and door codes (digits and spelled out). Every
API answer (single, idempotent replay, batch, GET, list, explained) and every byte of the database
(the SQLite file, or every text column on PostgreSQL) is scanned for them, and a brute force of the
door-code template against everything stored and returned must confirm nothing.
"""

from __future__ import annotations

import glob
import hashlib
import io
import json
import logging
import re

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from app.logging_config import JsonFormatter
from app.main import create_app
from tests.conftest import make_settings
from tests.screening_api.factories import R, W, post

DOOR_TEMPLATE = "Volunteers: the door code at the Independence Project is {}. Do not tell the families."
DOOR_CODE = "4712"
POSTS = [
    "Little Maisie Quenby had another meltdown at the centre today, her mum was in bits.",
    "Proud of my son Oliver Twistleton (age 7) at the Independence Project sports day!",
    DOOR_TEMPLATE.format(DOOR_CODE),
    "Reminder for the Saturday club team: the door code is four seven one two, keypad by the side gate.",
    "Centre families can ring Dawn on O77OO 9OO318 or ٠٧٧٠٠ ٩٠٠٥٢٧ about the trip.",
    "For the centre forms my NI number is JT 48 21 93 C, my son Alfie Brackenbury, 9, is on the list.",
]
NEEDLES = [
    "Maisie",
    "Quenby",
    "Oliver",
    "Twistleton",
    "age 7",
    "O77OO",
    "9OO318",
    "٠٧٧٠٠",
    "٩٠٠٥٢٧",
    "JT 48 21 93 C",
    "48 21 93",
    "Alfie",
    "Brackenbury",
    ", 9,",
    DOOR_CODE,
    "four seven one two",
]


def _holds(haystack: str, needle: str) -> bool:
    """Whether `needle` occurs in `haystack`; a bare number only as a number of its own.

    Ids, digests and request ids are hexadecimal: "4712" inside "…a4712f…" is chance, not the code.
    """
    if not needle.isdigit():
        return needle in haystack
    return re.search(rf"(?<![0-9A-Za-z]){needle}(?![0-9A-Za-z])", haystack) is not None


def _scan_database(settings, fresh_database) -> str:
    """Return everything the database holds, as text (SQLite: the raw file bytes, decoded loosely)."""
    if fresh_database.dialect == "sqlite":
        path = settings.database_url.removeprefix("sqlite:///")
        raw = b"".join(open(p, "rb").read() for p in glob.glob(path + "*"))
        return raw.decode("utf-8", errors="replace") + raw.decode("utf-16-le", errors="replace")
    engine = create_engine(settings.database_url)
    with engine.connect() as conn:
        columns = conn.execute(
            text(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND data_type IN ('text', 'character varying', 'json', 'jsonb')"
            )
        ).all()
        dump = [v for table, column in columns
                for (v,) in conn.execute(text(f'SELECT CAST("{column}" AS TEXT) FROM "{table}"'))]  # fmt: skip
    engine.dispose()
    return "\n".join(v for v in dump if v)


def test_redacted_values_are_nowhere_and_a_guessed_code_is_not_confirmed(fresh_database):
    settings = make_settings(fresh_database.url, log_level="DEBUG")
    app = create_app(settings)
    answers: list[str] = []
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logging.getLogger("app").addHandler(handler)  # every service log line, access log included
    with TestClient(app) as client:
        from app.auth.tokens import create_access_token

        headers = {"Authorization": "Bearer " + create_access_token(settings, sub="hr", scopes=[W, R])}
        ids = []
        for number, text_in in enumerate(POSTS):
            body = post(text_in, author={"id": "vol-7", "role": "volunteer"}, explain=True)
            first = client.post("/v1/screenings", json=body, headers={**headers, "Idempotency-Key": f"k-{number}"})
            assert first.status_code == 201, first.text
            replay = client.post("/v1/screenings", json=body, headers={**headers, "Idempotency-Key": f"k-{number}"})
            assert replay.headers.get("Idempotent-Replayed") == "true" and replay.json() == first.json()
            ids.append(first.json()["id"])
            answers += [first.text, replay.text]
        verdicts = [json.loads(a)["verdict"] for a in answers[::2]]
        assert verdicts[0] == verdicts[2] == verdicts[3] == verdicts[5] == "block", verdicts
        batch = client.post("/v1/screenings/batch", json={"items": [post(t) for t in POSTS]}, headers=headers)
        assert batch.status_code == 201, batch.text
        answers.append(batch.text)
        for screening_id in ids:
            for query in ("", "?explain=true"):
                got = client.get(f"/v1/screenings/{screening_id}{query}", headers=headers)
                assert got.status_code == 200
                answers.append(got.text)
        listed = client.get("/v1/screenings?limit=100", headers=headers)
        assert len(listed.json()["items"]) == 2 * len(POSTS)
        answers.append(listed.text)
    app.state.engine.dispose()
    logging.getLogger("app").removeHandler(handler)
    returned = "\n".join(json.loads(json.dumps(a)) for a in answers)
    stored = _scan_database(settings, fresh_database)
    logs = stream.getvalue()
    assert '"request"' in logs  # the capture does see the service's logs
    # The scans do see what was written: every screening's keyed digest is in the database.
    digests = [json.loads(a)["text_hmac"] for a in answers[: 2 * len(POSTS) : 2]]
    assert all(d in stored for d in digests)
    for needle in NEEDLES:
        assert not _holds(returned, needle), f"returned: {needle!r}"
        assert not _holds(stored, needle), f"stored: {needle!r}"
        assert not _holds(logs, needle), f"logged: {needle!r}"
    # What the findings say was redacted, without saying what it was.
    first_findings = json.loads(answers[0])["findings"]
    assert any("name" in f["categories"] for f in first_findings)
    # Brute force of the door-code template: no digest of any guess (the right one included) is
    # stored or returned, and nothing there is the guess itself.
    everything = returned + stored
    for guess in range(10_000):
        candidate = DOOR_TEMPLATE.format(f"{guess:04d}").encode()
        assert hashlib.sha256(candidate).hexdigest() not in everything, guess
        assert hashlib.md5(candidate).hexdigest() not in everything, guess  # noqa: S324 - an attacker's try

"""A database error never puts SQL parameters or the driver's row values into the log."""

from __future__ import annotations

import io
import logging

from sqlalchemy import text

from app.logging_config import JsonFormatter

PHONE = "07700 900382"


def test_a_failing_insert_logs_no_parameter_values(client, auth, session):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())  # the service's own log format, as configured at start-up
    logging.getLogger("app").addHandler(handler)
    # The incident table vanishes mid-flight (rolled back with the test's transaction), so the
    # INSERT carrying the summary fails inside the database driver.
    session.execute(text("ALTER TABLE incident RENAME TO incident_gone"))
    try:
        response = client.post(
            "/v1/incidents",
            json={
                "subject": {"id": "vol-77", "role": "volunteer"},
                "platform": "facebook",
                "posted_at": "2026-01-05T09:00:00Z",
                "summary": f"Posted that people should ring her on {PHONE}",
            },
            headers=auth("incidents:write"),
        )
    finally:
        logging.getLogger("app").removeHandler(handler)
    # A missing table is a bug (500), not an unavailable database: a 503 would tell clients to retry.
    assert response.status_code == 500
    assert "retry-after" not in response.headers
    assert response.headers["content-type"].startswith("application/problem+json")
    assert PHONE not in response.text
    logs = stream.getvalue()
    assert "unhandled exception" in logs and "message withheld" in logs
    assert "INSERT INTO incident" in logs  # the statement is kept for diagnosis, its parameters are not
    assert PHONE not in logs and PHONE.replace(" ", "") not in logs and "ring her on" not in logs

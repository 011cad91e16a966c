"""The clause model answers through POST /v1/screenings exactly as through the engine and the evaluate command."""

from __future__ import annotations

import json
from pathlib import Path

from app.policy.pack import load_pack
from app.screening.engine import build_screener
from app.screening.evaluate import context_of
from tests.screening_api.factories import W

#: Labelled posts written for the tests (never trained on); prior-authority items need a real grant.
SET = Path(__file__).parents[1] / "screening" / "blind_session2_b.jsonl"


def test_api_verdicts_and_clauses_equal_the_engines(client, auth):
    engine = build_screener(load_pack())
    records = [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines() if line]
    records = [r for r in records if not (r.get("context") or {}).get("prior_authority")]
    assert len(records) >= 30
    headers = auth(W, sub="hr-1")
    for rec in records:
        ctx = rec.get("context") or {}
        body = {"text": rec["text"], "author": {"id": "a-1", "role": rec["author_role"]},
                "platform": rec["platform"], "store": False,
                "context": {"account": ctx.get("account") or "personal",
                            "registration_email": ctx.get("registration_email")}}  # fmt: skip
        r = client.post("/v1/screenings", json=body, headers=headers)
        assert r.status_code == 200, r.text
        got = r.json()
        want = engine.screen(rec["text"], context_of(rec))
        assert got["verdict"] == want.verdict.value, rec["id"]
        assert sorted({f["rule_id"] for f in got["findings"]}) == list(want.rule_ids), rec["id"]
        assert got["engine_version"] == engine.engine_version
        assert "+model." in got["engine_version"]

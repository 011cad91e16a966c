"""The report's pieces: clauses that apply without a mention of the organisation, tweet rates, the table."""

from __future__ import annotations

from app.policy.pack import PolicyPack
from app.screening.evaluate import evaluate
from app.screening.learned.report import general_clauses, side_by_side, tweet_rates


def _tweet(text: str, verdict: str, rules: list[str]) -> dict:
    return {"id": text[:8], "text": text, "author_role": "unknown", "platform": "twitter",
            "context": {"prior_authority": False, "registration_email": None, "account": "personal"},
            "expected_verdict": verdict, "expected_rules": rules}  # fmt: skip


def test_general_clauses_come_from_the_external_labels(pack: PolicyPack) -> None:
    assert general_clauses(pack) == {"SM-REPUTATION"}


def test_tweet_rates_count_clean_and_hateful_separately(fused) -> None:
    records = [
        _tweet("lovely sunny afternoon at the beach with the kids", "allow", []),
        _tweet("watching the match tonight, come on you reds", "allow", []),
        _tweet(
            "Britain is full, ship every last one of them back where they came from", "block", ["SM-REPUTATION"]
        ),  # fmt: skip
    ]
    rates = tweet_rates(fused, records)
    assert (rates["clean"], rates["hateful"]) == (2, 1)
    assert rates["clean_blocked"] == 0.0 and rates["org_specific_fired"] == 0.0
    assert rates["hateful_flagged"] == 1.0


def test_side_by_side_has_a_column_per_set(fused) -> None:
    records = [_tweet("lovely sunny afternoon at the beach with the kids", "allow", [])]
    m = evaluate(records, fused)
    table = side_by_side({"first": m, "second": m})
    header = table.splitlines()[0]
    assert "first" in header and "second" in header
    assert "verdict_accuracy" in table and "SM-ACCESS" in table

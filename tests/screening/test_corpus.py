"""The corpus validator: the conventions' label rules, duplicates, and the shipped corpus's layout."""

from __future__ import annotations

import pytest

from app.policy.pack import PolicyPack
from app.screening.learned.corpus import (
    SPLITS,
    corpus_dir,
    load_external,
    load_split,
    near_duplicates,
    record_problems,
)


def _rec(**over) -> dict:
    base = {"id": "x-1", "batch": "x", "text": "A perfectly ordinary post about the weather.", "author_role": "staff",
            "platform": "twitter",
            "context": {"prior_authority": False, "registration_email": None, "account": "personal"},
            "expected_verdict": "allow", "expected_rules": [], "rationale": "clean"}  # fmt: skip
    return base | over


def test_a_valid_record_has_no_problems(pack: PolicyPack) -> None:
    assert record_problems(_rec(), pack) == []


@pytest.mark.parametrize(
    ("over", "problem"),
    [
        ({"expected_verdict": "allow", "expected_rules": ["SM-COMPLAINT"]}, "allow post lists no rule"),
        ({"expected_verdict": "block", "expected_rules": ["SM-AFFILIATION"]}, "not informational"),
        ({"author_role": "family_member", "expected_rules": ["SM-AFFILIATION"]}, "only for staff"),
        ({"author_role": "corporate"}, "account is corporate"),
        ({"expected_rules": ["SM-NOPE"]}, "expected_rules"),
        ({"platform": "myspace"}, "platform"),
        ({"text": "short"}, "10-1500"),
        (
            {
                "context": {"prior_authority": True, "registration_email": None, "account": "personal"},
                "expected_verdict": "review",
                "expected_rules": ["SM-DEBATE"],
            },
            "prior authority waives",
        ),  # fmt: skip
        (
            {
                "context": {
                    "prior_authority": False,
                    "registration_email": "a@Mail.IndependenceProject.co.uk",
                    "account": "personal",
                }
            },
            "SM-ORG-EMAIL block",
        ),  # fmt: skip
    ],
)
def test_label_rules_of_the_conventions_are_enforced(pack: PolicyPack, over: dict, problem: str) -> None:
    problems = record_problems(_rec(**over), pack)
    assert any(problem in p for p in problems), problems


def test_missing_or_extra_keys_are_reported(pack: PolicyPack) -> None:
    rec = _rec()
    del rec["rationale"]
    assert record_problems(rec, pack)
    assert record_problems(_rec(extra=1), pack)


def test_near_duplicates_are_found_within_and_against_another_set() -> None:
    a = _rec(id="a", text="the minibus was late again and nobody from the office rang us to say so")
    b = _rec(id="b", text="The minibus was late AGAIN and nobody from the office rang us to say so!!")
    c = _rec(id="c", text="completely different words about a birthday party in the park on sunday")
    assert [(x, y) for x, y, _ in near_duplicates([a, c], [b])] == [("a", "b")]
    assert near_duplicates([a, c]) == []


def test_the_shipped_corpus_has_both_splits_with_disjoint_batches(pack: PolicyPack) -> None:
    assert corpus_dir(pack).is_dir()
    batches = {s: {r["batch"] for r in load_split(pack, s)} for s in SPLITS}
    assert batches["train"] and batches["test"]
    assert not batches["train"] & batches["test"]


def test_external_sets_are_optional_when_measuring(pack: PolicyPack, tmp_path) -> None:
    # The held-out tweets are read from ../shared when present; a fresh clone without it still works.
    records = load_external(pack, "heldout", required=False)
    assert all(r["author_role"] == "unknown" and r["batch"].startswith("davidson2017:") for r in records)

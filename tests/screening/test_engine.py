"""Rules and verdicts through the whole engine: text + context -> verdict, rules, spans."""

from __future__ import annotations

import dataclasses

import pytest

from app.policy.pack import PolicyPack
from app.screening.engine import ENGINE_VERSION, Screener
from app.screening.rules import verdict_of
from app.screening.types import (
    AuthorRole,
    Explanation,
    Finding,
    ScreenContext,
    ScreenResult,
    Severity,
    Span,
    Verdict,
)
from tests.screening.conftest import ctx


@pytest.mark.parametrize(
    ("text", "role", "extra", "verdict", "rules"),
    [
        # SM-ACCESS
        ("fyi the keypad code for the staff door is 8 2 6 4", "staff", {}, "block", {"SM-ACCESS"}),
        ("office wifi password is Bluebell2025 btw", "volunteer", {}, "block", {"SM-ACCESS"}),
        ("work pw is just the usual plus the year", "staff", {}, "review", {"SM-ACCESS"}),
        ("my netflix password is Sunny2024 lol", "staff", {}, "allow", set()),
        # SM-CONFIDENTIAL
        (
            "Poppy (7) from our Saturday club had a seizure today",
            "staff",
            {},
            "block",
            {"SM-CONFIDENTIAL", "SM-AFFILIATION"},
        ),
        (
            "Difficult board meeting, tough decisions ahead for the charity",
            "trustee",
            {},
            "review",
            {"SM-CONFIDENTIAL"},
        ),
        ("One of our young people had a meltdown and hit staff today", "staff", {}, "review", {"SM-CONFIDENTIAL"}),
        ("My daughter Lily (4) started swimming lessons!", "family_member", {}, "allow", set()),
        # The clauses about meaning are the clause model's (tests/screening/test_learned.py); the
        # deterministic layer alone leaves these posts alone.
        ("Northern trains are a shambles again", "staff", {}, "allow", set()),
        ("Someone called my son a retard today. Not okay.", "family_member", {}, "allow", set()),
        ("shit day, bloody buses", "staff", {}, "allow", set()),
        # SM-DEBATE
        (
            "I work at Independence Project and the article is simply untrue",
            "staff",
            {"prior_authority": True},
            "allow",
            {"SM-AFFILIATION"},
        ),
        # SM-ORG-EMAIL
        ("Hello everyone!", "staff", {"registration_email": "Jo@IndependenceProject.co.uk"}, "block", {"SM-ORG-EMAIL"}),
        ("Hello everyone!", "staff", {"registration_email": "jo@independence-project.com"}, "review", {"SM-ORG-EMAIL"}),
        ("Hello everyone!", "staff", {"registration_email": "jo@gmail.com"}, "allow", set()),
        ("Email me at jo@independenceproject.co.uk about volunteering", "staff", {}, "allow", {"SM-AFFILIATION"}),
        # SM-AFFILIATION alone is allow
        ("Proud to volunteer at Independence Project", "volunteer", {}, "allow", {"SM-AFFILIATION"}),
        ("Proud to volunteer at Independence Project", "family_member", {}, "allow", set()),
    ],
)
def test_verdicts_and_rules(screener: Screener, text, role, extra, verdict, rules):
    """The deterministic layer alone (exact-evidence rules)."""
    result = screener.screen(text, ctx(role, **extra))
    assert result.verdict.value == verdict, result.findings
    assert set(result.rule_ids) == rules


def test_spans_point_into_the_original_text(screener: Screener):
    text = "door c0de for the back r00m is n0w 5 5\u200b1 2, team"
    result = screener.screen(text, ctx("staff"))
    finding = next(f for f in result.findings if f.rule_id == "SM-ACCESS")
    covered = [text[s.start : s.end] for s in finding.spans]
    assert "5 5\u200b1 2" in covered
    assert "5512" not in finding.evidence and "[CODE]" in finding.evidence


def test_finding_fields_and_explanation(screener: Screener, pack: PolicyPack):
    result = screener.screen("Alarm code at the centre is 2468", ctx("staff"))
    finding = next(f for f in result.findings if f.rule_id == "SM-ACCESS")
    assert finding.clause == pack.clause("SM-ACCESS").text
    assert finding.severity is Severity.HIGH
    assert finding.remediation == pack.clause("SM-ACCESS").remediation
    assert finding.action is Verdict.BLOCK
    assert finding.confidence == finding.explanation.final_score
    assert 0.0 <= finding.confidence <= 1.0
    assert finding.explanation.detector == "secrets"
    assert finding.reason
    assert result.risk_score == max(f.confidence for f in result.findings)
    assert result.policy_version == pack.policy_version
    assert result.engine_version == ENGINE_VERSION
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.confidence = 0.1  # type: ignore[misc]  # assigning to a frozen field on purpose


def test_suggested_text_uses_typed_placeholders(screener: Screener):
    text = (
        "Leo (9) from Saturday club, mum on 07700 900123, leo.mum@example.com, "
        "NHS 943 476 5919, DOB 01/02/2016, LS6 2QT, 12 Mill Road, door code is 1357"
    )
    result = screener.screen(text, ctx("staff"))
    suggested = result.suggested_text
    for placeholder in ("[NAME]", "[PHONE]", "[EMAIL]", "[NHS_NUMBER]", "[DATE]", "[POSTCODE]", "[ADDRESS]", "[CODE]"):
        assert placeholder in suggested, placeholder
    for secret in ("07700 900123", "leo.mum@example.com", "943 476 5919", "01/02/2016", "1357"):
        assert secret not in suggested
    assert result.verdict is Verdict.BLOCK


def test_corporate_account_is_out_of_scope(screener: Screener):
    result = screener.screen(
        "Our door code is 1234 and Jack (5) loves it here!",
        ScreenContext(
            author_role=AuthorRole.CORPORATE, account="corporate", registration_email="info@independenceproject.co.uk"
        ),
    )
    assert result.verdict is Verdict.ALLOW
    assert result.findings == ()
    assert result.notes and "out of scope" in result.notes[0]


def test_deterministic(screener: Screener, pack: PolicyPack):
    text = "Ruby (6) at the centre, door code 4 4 7 1, Independence Project is a shambles 🙄"
    first = screener.screen(text, ctx("staff"))
    for _ in range(3):
        assert screener.screen(text, ctx("staff")) == first
    assert Screener(pack).screen(text, ctx("staff")) == first


def test_findings_sorted_strongest_first(screener: Screener):
    result = screener.screen("I work at Independence Project. Door code is 9090 and it's a shambles", ctx("staff"))
    keys = [f.sort_key() for f in result.findings]
    assert keys == sorted(keys)
    assert result.findings[-1].rule_id == "SM-AFFILIATION"


def _finding(rule: str, action: Verdict) -> Finding:
    return Finding(rule, "clause", Severity.LOW, 0.5, (Span(0, 1),), "e", "r", "m",
                   Explanation("d", 0.5), action)  # fmt: skip


@pytest.mark.parametrize(
    ("actions", "expected"),
    [
        ([], Verdict.ALLOW),
        ([("SM-AFFILIATION", Verdict.ALLOW)], Verdict.ALLOW),
        ([("SM-COMPLAINT", Verdict.REVIEW), ("SM-AFFILIATION", Verdict.ALLOW)], Verdict.REVIEW),
        ([("SM-COMPLAINT", Verdict.REVIEW), ("SM-ACCESS", Verdict.BLOCK)], Verdict.BLOCK),
    ],
)
def test_verdict_combination(actions, expected):
    assert verdict_of([_finding(r, a) for r, a in actions]) is expected


def test_result_types_are_frozen(screener: Screener):
    result = screener.screen("hello", None)
    assert isinstance(result, ScreenResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.verdict = Verdict.BLOCK  # type: ignore[misc]  # assigning to a frozen field on purpose


def test_span_validation():
    with pytest.raises(ValueError):
        Span(5, 2)


def test_context_accepts_plain_strings():
    # JSON callers pass plain strings; the context stores the enum and refuses an unknown account.
    role = ScreenContext(author_role="volunteer").author_role  # type: ignore[arg-type]  # a str on purpose
    assert role is AuthorRole.VOLUNTEER
    with pytest.raises(ValueError):
        ScreenContext(account="shared")  # type: ignore[arg-type]  # an invalid account on purpose


def test_non_string_text_is_rejected(screener: Screener):
    with pytest.raises(TypeError):
        screener.screen(None)  # type: ignore[arg-type]  # a non-string on purpose

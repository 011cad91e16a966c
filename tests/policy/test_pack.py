from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.policy.pack import PACKS_DIR, PackError, load_pack
from app.screening.engine import Screener
from app.screening.types import AuthorRole, ScreenContext

POLICY_SENTENCES = {
    "SM-DEBATE": "You must not enter into any public debate on any issues that relate to Independence Project.",
    "SM-ORG-EMAIL": "You must not use your Independence Project email address to register on such sites.",
}


def test_default_pack_loads_by_none_name_and_path():
    by_default = load_pack()
    assert load_pack("independence_project") is load_pack("independence_project")
    by_path = load_pack(str(PACKS_DIR / "independence_project.toml"))
    assert by_default.policy_version == by_path.policy_version
    assert by_default.name == "independence_project"


def test_policy_version_is_version_plus_short_hash():
    pack = load_pack()
    assert re.fullmatch(r"\d+\.\d+\.\d+\+[0-9a-f]{8}", pack.policy_version)
    assert pack.policy_version.startswith(pack.version + "+")


def test_every_rule_has_a_clause_with_verbatim_text():
    pack = load_pack()
    assert [c.rule_id for c in pack.clauses] == [
        "SM-DEBATE", "SM-RELATIONSHIPS", "SM-REPUTATION", "SM-ACCESS",
        "SM-CONFIDENTIAL", "SM-ORG-EMAIL", "SM-AFFILIATION", "SM-COMPLAINT",
    ]  # fmt: skip
    for rule_id, sentence in POLICY_SENTENCES.items():
        assert pack.clause(rule_id).text == sentence
    for clause in pack.clauses:
        assert clause.severity in ("low", "medium", "high")
        assert clause.remediation
    with pytest.raises(KeyError):
        pack.clause("SM-NOPE")


def test_clause_texts_quote_the_policy_document_when_available():
    policy = Path(__file__).resolve().parents[3] / "shared" / "policy" / "social-media-policy.md"
    if not policy.is_file():
        pytest.skip("policy source text not available next to the repository")
    source = " ".join(policy.read_text(encoding="utf-8").split())
    for clause in load_pack().clauses:
        assert clause.text in source, clause.rule_id
    for step in load_pack().ladder.steps:
        assert step.wording in source, step.stage


def test_organisation_identity_review_and_ladder():
    pack = load_pack()
    org = pack.organisation
    assert org.name == "Independence Project"
    assert "independenceproject.co.uk" in org.email_domains
    assert org.company_number == "03336523"
    assert "07880 645273" in org.phones
    assert pack.review.title == "Social Media"
    assert pack.review.organisation == "Independence Project"
    assert pack.review.last_reviewed == dt.date(2019, 11, 1)
    assert pack.review.label == "Reviewed Nov 2019"
    assert pack.review.version == "2019-11"
    stages = [s.stage for s in pack.ladder.steps]
    assert stages == ["spoken_to", "legal_letter", "attendance_denied", "disciplinary_referral", "resolved"]
    assert "speak directly with you and ask that you refrain" in pack.ladder.step("spoken_to").wording
    assert pack.ladder.step("disciplinary_referral").roles == ["staff", "volunteer", "trustee"]
    assert "managing director" in pack.complaint_channel


def test_pack_is_frozen():
    pack = load_pack()
    with pytest.raises(ValidationError):
        pack.version = "9"  # type: ignore[misc]  # assigning to a frozen field on purpose


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "pack.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _base_text() -> str:
    return (PACKS_DIR / "independence_project.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t.replace('severity = "medium"', 'severity = "extreme"', 1), "severity"),
        (lambda t: t.replace('rule_id = "SM-DEBATE"', 'rule_id = "sm debate"', 1), "sm debate"),
        (lambda t: t.replace('rule_id = "SM-DEBATE"', 'rule_id = "SM-ACCESS"', 1), "duplicate rule ids"),
        (lambda t: t.replace('incident_rule = "SM-COMPLAINT"', 'incident_rule = "SM-NOPE"', 1), "ladder.incident_rule"),
        (lambda t: t.replace('evidence = "confidential"', 'evidence = "access"', 1), "more than one clause"),
        (lambda t: t.replace("block = 0.75", "block = 0.1", 1), "thresholds"),
        (lambda t: t.replace("[patterns]\n", "[patterns]\nbroken = '(unclosed'\n", 1), "patterns.broken"),
        (lambda t: t.replace('stage = "legal_letter"', 'stage = "prison"', 1), "ladder"),
        (lambda t: t + "\nthis is not toml", "not valid TOML"),
    ],
)
def test_bad_pack_raises_pack_error_naming_the_entry(tmp_path, mutate, message):
    with pytest.raises(PackError) as exc:
        load_pack(_write(tmp_path, mutate(_base_text())))
    assert message in str(exc.value)
    assert isinstance(exc.value, ValueError)


def test_clause_ids_are_the_packs_own(tmp_path):
    """Another organisation's pack names its own clauses: nothing in Python fixes the ids."""
    pack = load_pack(_write(tmp_path, _base_text().replace('"SM-', '"HYC-')))
    assert [c.rule_id for c in pack.clauses][:2] == ["HYC-DEBATE", "HYC-RELATIONSHIPS"]
    assert pack.ladder.incident_rule == "HYC-COMPLAINT"
    access = pack.clause_for_evidence("access")
    assert access is not None and access.rule_id == "HYC-ACCESS"
    # The exact-evidence layer reports under the pack's ids (no clause model: none was trained for it).
    result = Screener(pack).screen("The keypad code for the office is 4821", ScreenContext(AuthorRole.STAFF))
    assert "HYC-ACCESS" in result.rule_ids
    assert not any(r.startswith("SM-") for r in result.rule_ids)


def test_unknown_pack_name_and_path():
    with pytest.raises(PackError, match="not found"):
        load_pack("no_such_pack")
    with pytest.raises(PackError, match="not found"):
        load_pack("/nonexistent/pack.toml")
    with pytest.raises(PackError):
        load_pack("../etc")


def test_missing_lexicon_is_reported_by_name():
    pack = load_pack()
    with pytest.raises(PackError, match="no_such_lexicon"):
        pack.lexicon("no_such_lexicon")

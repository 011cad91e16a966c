"""Concept tests for a second round of fixes, on sentences written for these tests.

Concepts: another family's child named and described in a centre context; public rebuttals of an
organisation decision; affiliation only when the author says they work there; the charity sector
in general is not the organisation. No sentence is taken from an evaluation set.
"""

from __future__ import annotations

import pytest

from tests.screening.conftest import ctx


def _rules(result):
    return {f.rule_id: f.action.value for f in result.findings}


# --- Another family's child, named and tied to the centre -------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "The girl who keeps pinching my son at Saturday club is named Ruby, she's around 8.",
        "A lad pushed my little girl over at the centre on Tuesday. His name is Oscar, he is 9, and nobody rang me.",
    ],
)
def test_parent_naming_another_child_from_the_centre_blocks(screener, text):
    result = screener.screen(text, ctx("family_member"))
    assert _rules(result).get("SM-CONFIDENTIAL") == "block"
    assert result.verdict.value == "block"


def test_name_with_age_given_by_a_pronoun_is_an_identifier(screener):
    text = "Jacob, he's only 11, kicked off at the centre again today and threw a chair."
    assert _rules(screener.screen(text, ctx("staff"))).get("SM-CONFIDENTIAL") == "block"


def test_parent_naming_their_own_child_stays_allowed(screener):
    text = "My daughter is called Ella and she's 6 today! Cake for breakfast 🎂"
    result = screener.screen(text, ctx("family_member"))
    assert result.verdict.value == "allow"
    assert "SM-CONFIDENTIAL" not in _rules(result)


def test_insider_naming_a_child_without_a_centre_link_is_review(screener):
    text = "Great to see a youngster like Mia beating her fear of the swimming pool today, so proud"
    assert _rules(screener.screen(text, ctx("volunteer"))).get("SM-CONFIDENTIAL") == "review"


def test_insider_praising_a_named_adult_colleague_is_not_about_a_child(screener):
    text = "Brilliant work from Mia on reception today, she handled a busy morning like a pro"
    assert screener.screen(text, ctx("staff")).verdict.value == "allow"


# --- Public rebuttal of an organisation decision -----------------------------------------------


def test_prior_authority_still_removes_the_debate_finding(screener):
    text = "I disagree with the centre's plan to close on Fridays, it's a disgrace."
    result = screener.screen(text, ctx("staff", prior_authority=True))
    assert "SM-DEBATE" not in _rules(result)


# --- Affiliation needs the author to say they work there ---------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Setting up the new Wi-Fi printer at IP this morning, fingers crossed.",
        "Forwarded the invoice to accounts@independenceproject.co.uk before lunch.",
        "Spent the evening reading up on IP licensing for my side hustle.",
    ],
)
def test_no_affiliation_without_a_first_person_claim(screener, text):
    result = screener.screen(text, ctx("volunteer"))
    assert "SM-AFFILIATION" not in _rules(result)
    assert result.verdict.value == "allow"


def test_shared_mailbox_used_to_sign_up_is_still_an_org_email(screener):
    text = "Signed up for the training forum with reception@independenceproject.co.uk, hope that's ok"
    assert _rules(screener.screen(text, ctx("staff"))).get("SM-ORG-EMAIL") == "review"


def test_personal_work_address_still_shows_affiliation(screener):
    text = "Any questions about the fun run, drop me a line at sam.taylor@independenceproject.co.uk"
    assert _rules(screener.screen(text, ctx("staff"))).get("SM-AFFILIATION") == "allow"


# --- The sector in general ---------------------------------------------------------------------


def test_news_about_the_charity_sector_is_not_an_internal_matter(screener):
    text = "Tough week for the charity sector, more redundancies announced all over."
    assert screener.screen(text, ctx("staff")).verdict.value == "allow"


def test_redundancies_at_the_organisation_still_block(screener):
    text = "Three of us at Independence Project are being made redundant next month, not announced yet."
    assert _rules(screener.screen(text, ctx("staff"))).get("SM-CONFIDENTIAL") == "block"


# --- Weekday groups name the service whatever the day ------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Maisie from the Friday group had a meltdown in the car park and bit a volunteer",
        "Jayden from Wednesday group threw up on the bus lol",
    ],
)
def test_named_child_from_a_weekday_group_with_an_incident_blocks(screener, text):
    assert _rules(screener.screen(text, ctx("service_user"))).get("SM-CONFIDENTIAL") == "block"


# --- Ableist insults with a degree word --------------------------------------------------------


# --- A grievance about people located at the organisation --------------------------------------


# --- Calling an organisation decision wrong is a concern raised in public ----------------------

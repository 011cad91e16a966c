"""Detector tables: text -> expected signal kinds (and the text each span covers)."""

from __future__ import annotations

import pytest

from app.screening.detectors import default_registry
from app.screening.detectors.personal_data import nhs_checksum_ok
from tests.screening.conftest import ctx


@pytest.fixture(scope="module")
def detectors(pack):
    return {d.name: d for d in default_registry(pack)}


def run(detectors, make_doc, name, text, role="staff", **kw):
    doc = make_doc(text)
    signals = detectors[name].detect(doc, context=ctx(role, **kw))
    return {(s.kind, text[s.span.start : s.span.end]) for s in signals}


def kinds(found):
    return {k for k, _ in found}


@pytest.mark.parametrize(
    ("text", "kind", "covered"),
    [
        ("Fundraiser for Independence Project tonight", "org.explicit", "Independence Project"),
        ("Loving #IndependenceProject today", "org.explicit", "IndependenceProject"),
        ("see independenceproject.co.uk/events", "org.explicit", "independenceproject.co.uk"),
        ("Indepandence Projekt bake sale", "org.explicit", "Indepandence Projekt"),
        ("Іndеpendence Prоject (Cyrillic)", "org.explicit", "Іndеpendence Prоject"),
        ("I n d e p e n d e n c e  P r o j e c t", "org.explicit", "I n d e p e n d e n c e  P r o j e c t"),
        ("Indep\u200bendence Project", "org.explicit", "Indep\u200bendence Project"),
        ("back at the centre tomorrow", "org.implicit", "the centre"),
        ("I.P. strikes again", "org.implicit", "I.P."),
        ("Call us on 07880 645273", "org.public_contact", "07880 645273"),
        ("busy at work today", "org.workplace", "at work"),
    ],
)
def test_org_mention_finds(detectors, make_doc, text, kind, covered):
    assert (kind, covered) in run(detectors, make_doc, "org_mention", text)


@pytest.mark.parametrize(
    "text",
    [
        "Happy Independence Day to all!",
        "Financial independence takes discipline",
        "My IP address changed again",
        "The leisure centre pool is closed",
        "Project Independence housing association",
        "ip is lowercase here: a zip tip",
        "The Independence Trust does great work",
    ],
)
def test_org_mention_ignores_other_senses(detectors, make_doc, text):
    found = run(detectors, make_doc, "org_mention", text)
    assert not kinds(found) & {"org.explicit", "org.implicit"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I work at the centre and love it", {"affil.claim", "affil.first_person"}),
        ("Volunteered at the fair today", {"affil.claim"}),
        ("email me at j.smith@independenceproject.co.uk", {"affil.work_email"}),
        ("Quiz night this Friday, teams of six", set()),
    ],
)
def test_affiliation(detectors, make_doc, text, expected):
    assert expected <= kinds(run(detectors, make_doc, "affiliation", text))
    if not expected:
        assert "affil.claim" not in kinds(run(detectors, make_doc, "affiliation", text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Your article is one-sided and misleading", {"debate.argue", "debate.media"}),
        ("There's more to it than people think", {"debate.hint"}),
        ("My manager said I could share this", {"debate.claimed_authority"}),
        ("@TownGazetteNews please check your facts", {"debate.media"}),
    ],
)
def test_debate(detectors, make_doc, text, expected):
    assert expected <= kinds(run(detectors, make_doc, "debate", text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Honestly the service is a shambles", {"complaint.strong"}),
        ("Really disappointed with how this was handled", {"complaint.weak"}),
        ("Funny how there's always money for a new logo", {"complaint.insinuation"}),
        ("Please use our complaints procedure", {"complaint.neutral"}),
    ],
)
def test_complaint(detectors, make_doc, text, expected):
    assert expected <= kinds(run(detectors, make_doc, "complaint", text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My manager is useless", {"rel.target_specific", "rel.negative"}),
        ("Some parents are so rude", {"rel.target", "rel.negative"}),
        ("Never using Brightside Cleaning Ltd again", {"rel.business"}),
    ],
)
def test_relationships(detectors, make_doc, text, expected):
    assert expected <= kinds(run(detectors, make_doc, "relationships", text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("He's a total spastic", {"offensive.slur"}),
        ("Remigration now, the great replacement is coming", {"offensive.extremist"}),
        ("that group was absolutely feral this morning", {"offensive.degrading"}),
        ("half of them can't speak English anyway", {"offensive.discriminatory"}),
        ("pulled a sickie for the match", {"conduct.boast"}),
        ("shit day, bloody buses", {"offensive.profanity"}),
        ("Someone called my son a retard, that is not okay", {"offensive.slur", "offensive.condemnation"}),
    ],
)
def test_offensive(detectors, make_doc, text, expected):
    assert expected <= kinds(run(detectors, make_doc, "offensive", text))


def test_discriminatory_phrase_negated_is_ignored(detectors, make_doc):
    found = run(detectors, make_doc, "offensive", "Disabled people are not a burden on anyone")
    assert "offensive.discriminatory" not in kinds(found)


@pytest.mark.parametrize(
    ("text", "kind", "covered"),
    [
        ("ring 07700 900123 after six", "pii.phone", "07700 900123"),  # Ofcom drama range
        ("ring 01632 960555", "pii.phone", "01632 960555"),
        ("ring 020 7946 0321", "pii.phone", "020 7946 0321"),
        ("ring 0113 496 0999", "pii.phone", "0113 496 0999"),
        ("ring +44 7700 900456", "pii.phone", "+44 7700 900456"),
        ("mail sam@example.org", "pii.email", "sam@example.org"),
        ("lives near LS1 4AB", "pii.postcode", "LS1 4AB"),
        ("NHS no 943 476 5919", "pii.nhs", "943 476 5919"),
        ("DOB 02/11/2015", "pii.dob", "02/11/2015"),
        ("Maisie, 6, loved it", "pii.name_age", "Maisie"),
        ("Jayden (11) was great", "pii.name_age", "Jayden"),
        ("our 8-year-old Tommy", "pii.name_age", "Tommy"),
        ("Mrs Hughes in the office", "pii.name", "Mrs Hughes"),
        ("lives at 14 Acacia Avenue", "pii.address", "14 Acacia Avenue"),
        ("she goes to Hillside Primary", "pii.school", "Hillside Primary"),
        ("[photo: three children, faces visible]", "pii.photo_faces", "[photo: three children, faces visible]"),
        ("[photo: children from behind, no faces]", "pii.photo_nofaces", "[photo: children from behind, no faces]"),
        ("had a seizure at lunch", "pii.health", "seizure"),
        ("one of the young people", "pii.su_ref", "one of the young people"),
    ],
)
def test_personal_data(detectors, make_doc, text, kind, covered):
    assert (kind, covered) in run(detectors, make_doc, "personal_data", text)


@pytest.mark.parametrize(
    "text",
    [
        "NHS no 943 476 5910",  # checksum fails
        "our number is 07880 645273",  # the organisation's public number
        "call info@independenceproject.co.uk",  # the public address
        "ring 12345",  # not a phone number
    ],
)
def test_personal_data_rejects(detectors, make_doc, text):
    found = kinds(run(detectors, make_doc, "personal_data", text))
    assert not found & {"pii.nhs", "pii.phone", "pii.email"}


@pytest.mark.parametrize(
    ("digits", "ok"), [("9434765919", True), ("9434765910", False), ("4010232137", True), ("123", False)]
)
def test_nhs_checksum(digits, ok):
    assert nhs_checksum_ok(digits) is ok


@pytest.mark.parametrize(
    ("text", "kind", "covered"),
    [
        ("door code is 4471#", "secret.credential", "4471#"),
        ("the alarm code has changed to 6 0 4 2", "secret.credential", "6 0 4 2"),
        ("d00r c0de n0w 7\u200b3\u200b1\u200b9", "secret.credential", "7\u200b3\u200b1\u200b9"),
        ("username jbloggs, password Tulip!77", "secret.credential", "Tulip!77"),
        ("wifi password: Meadow2024", "secret.credential", "Meadow2024"),
        (
            "STRIPE_SECRET=sk_test_4eC39HqLyjWDarjtT1zdp7dc",
            "secret.credential",
            "STRIPE_SECRET=sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        ),
        ("token ghp_abcdefghijklmnopqrstuvwxyz123456", "secret.credential", "ghp_abcdefghijklmnopqrstuvwxyz123456"),
        ("spare keys are taped under the desk", "secret.location", "spare keys are taped under"),
        ("password is the usual plus the month", "secret.hint", "the usual"),
    ],
)
def test_secrets(detectors, make_doc, text, kind, covered):
    assert (kind, covered) in run(detectors, make_doc, "secrets", text)


@pytest.mark.parametrize(
    "text",
    ["changed my password in 2019", "the code of conduct 2024 edition", "meet at 10:30 by the door"],
)
def test_secrets_need_a_value_not_any_number(detectors, make_doc, text):
    assert "secret.credential" not in kinds(run(detectors, make_doc, "secrets", text))


@pytest.mark.parametrize(
    ("email", "kind"),
    [
        ("a.b@independenceproject.co.uk", "registration"),
        ("A.B@IndependenceProject.CO.UK", "registration"),
        ("x+forum@independenceproject.co.uk", "registration"),
        ("team@mail.independenceproject.co.uk", "registration"),
        ("a@independenceproject.com", "lookalike"),
        ("a@independence-project.co.uk", "lookalike"),
        ("a@indepedenceproject.co.uk", "lookalike"),
        ("independenceproject.fan@gmail.com", None),
        ("m.h@independencetrust.org.uk", None),
    ],
)
def test_org_email_classification(detectors, email, kind):
    assert detectors["org_email"].classify(email) == kind


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Redundancies announced at work today", {"internal.specific"}),
        ("Big changes coming, can't say much", {"internal.hint"}),
        ("Safeguarding referral made, dad turned up drunk", {"safeguarding.term", "safeguarding.substance"}),
        ("We lost £40k this year", {"internal.money"}),
    ],
)
def test_internal_matters(detectors, make_doc, text, expected):
    assert expected <= kinds(run(detectors, make_doc, "internal_matters", text))

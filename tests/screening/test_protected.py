from __future__ import annotations

import pytest

from app.screening import protected
from app.screening.engine import Screener
from app.screening.protected import (
    MAX_NGRAM,
    ProtectedMatch,
    ProtectedTermMatcher,
    normalize_term,
    sizes_mask,
    sizes_of,
    term_digest,
    term_words,
)
from app.screening.types import Verdict
from tests.screening.conftest import ctx

KEY = b"test-secret-key-not-for-production"


@pytest.fixture(scope="module")
def protected_screener(screener: Screener) -> Screener:
    entries = [
        (term_digest("Jack", KEY), "child_name"),
        (term_digest("Priya Okafor", KEY), "family_name"),
        (term_digest("Bluebird", KEY), "code_name"),
        (term_digest("8642", KEY), "access_code"),
        (term_digest("Gareth", KEY), "staff_name"),
    ]
    return screener.with_protected(ProtectedTermMatcher(entries, KEY))


@pytest.mark.parametrize(
    ("value", "normal"),
    [
        ("Jack", "jack"),
        ("JACK", "jack"),
        ("J.a.c.k", "jack"),
        ("J a c k", "jack"),
        ("J4ck", "jack"),
        ("  Priya   Okafor ", "priya okafor"),
        ("Mary-Jane", "mary jane"),
        ("Јack", "jack"),  # Cyrillic J
    ],
)
def test_normalize_term(value, normal):
    assert normalize_term(value) == normal


def test_digest_is_keyed_and_hides_the_term():
    digest = term_digest("Jack", KEY)
    assert len(digest) == 64 and "jack" not in digest.lower()
    assert digest == term_digest("J.A.C.K", KEY)
    assert digest != term_digest("Jack", b"another-key")


@pytest.mark.parametrize(
    ("text", "covered"),
    [
        ("Had a lovely day with Jack today", "Jack"),
        ("JACK was brilliant", "JACK"),
        ("well done J.a.c.k!", "J.a.c.k"),
        ("shout out to J a c k", "J a c k"),
        ("go J\u200back", "J\u200back"),
    ],
)
def test_registered_child_name_blocks_with_span(protected_screener, text, covered):
    result = protected_screener.screen(text, ctx("staff"))
    assert result.verdict is Verdict.BLOCK
    finding = next(f for f in result.findings if f.rule_id == "SM-CONFIDENTIAL")
    assert [text[s.start : s.end] for s in finding.spans] == [covered]
    assert covered not in result.suggested_text
    assert "[NAME]" in result.suggested_text


def test_family_name_code_name_and_access_code(protected_screener):
    family = protected_screener.screen("Saw Priya Okafor at the shop", ctx("volunteer"))
    assert "SM-CONFIDENTIAL" in family.rule_ids and family.verdict is Verdict.BLOCK
    code = protected_screener.screen("Project Bluebird is go", ctx("staff"))
    assert "SM-CONFIDENTIAL" in code.rule_ids
    access = protected_screener.screen("remember 8 6 4 2 everyone", ctx("staff"))
    assert "SM-ACCESS" in access.rule_ids and access.verdict is Verdict.BLOCK
    assert "[CODE]" in access.suggested_text


def test_staff_name_only_identifies_a_colleague(protected_screener):
    neutral = protected_screener.screen("Gareth made tea for everyone", ctx("staff"))
    assert neutral.verdict is Verdict.ALLOW
    attack = protected_screener.analyse("gareth is useless and lazy", ctx("staff"))
    (name,) = attack.signals.get("protected.staff_name")
    assert (name.span.start, name.span.end) == (0, 6)
    assert "sig:protected.staff_name" in attack.meta  # the clause model sees who is named


def test_without_matcher_the_name_is_not_special(screener):
    assert screener.screen("Had a lovely day with Jack today", ctx("staff")).verdict is Verdict.ALLOW


def test_with_protected_shares_compiled_state(screener, protected_screener):
    assert protected_screener._lexicon is screener._lexicon
    assert screener.protected is None


def test_matcher_validates_entries():
    with pytest.raises(ValueError):
        ProtectedTermMatcher([("00" * 32, "pet_name")], KEY)
    with pytest.raises(ValueError):
        ProtectedTermMatcher([("not-hex", "child_name")], KEY)
    assert len(ProtectedTermMatcher([], KEY)) == 0


@pytest.mark.parametrize("key", [b"k", b"x" * 64, b"a-key-longer-than-one-sha256-block-" * 3])
def test_find_matches_hmac_of_every_ngram_for_any_key_length(key):
    # The matcher hashes from precomputed HMAC pad states; it must agree with hmac.new for short,
    # block-sized and over-long keys, and prefer the longest n-gram.
    entries = [(term_digest("Sam", key), "child_name"), (term_digest("Sam Lee Park", key), "family_name")]
    matcher = ProtectedTermMatcher(entries, key)
    words = ["met", "sam", "lee", "park", "and", "sam", "again", "samuel"]
    found = [(m.first, m.last, m.kind) for m in matcher.find(words)]
    assert found == [(1, 3, "family_name"), (5, 5, "child_name")]
    assert matcher.find([]) == []


def test_sizes_mask_and_sizes_of():
    assert sizes_mask([1, 2, 2]) == 0b11 and sizes_mask([]) == 0
    assert sizes_of(0b101) == {1, 3} and sizes_of(None) == set(range(1, MAX_NGRAM + 1))
    assert sizes_of(sizes_mask(range(1, MAX_NGRAM + 1))) == sizes_of(None)
    for bad in (0, MAX_NGRAM + 1):
        with pytest.raises(ValueError, match=f"1 to {MAX_NGRAM} words"):
            sizes_mask([bad])
    assert term_words(" J.a.c.k  Ó'Neill ") == 2  # "jack o'neill"
    assert term_words("Mary-Jane Smith") == 3  # "mary jane smith"
    assert term_words("...") == 0


def test_find_hashes_only_the_registered_lengths():
    entries = [(term_digest("Sam", KEY), "child_name"), (term_digest("Sam Lee Park", KEY), "family_name")]
    words = ["met", "sam", "lee", "park", "and", "sam", "again"]
    # Told the true lengths, the matcher finds what hashing every length finds.
    told = ProtectedTermMatcher(entries, KEY, sizes={1, 3})
    assert told.find(words) == ProtectedTermMatcher(entries, KEY).find(words)
    assert [(m.first, m.last) for m in told.find(words)] == [(1, 3), (5, 5)]
    # A length it is not told about is not hashed: the three-word name goes unseen (the registry
    # must never under-report), and the shorter registered name is matched inside it instead.
    assert [(m.first, m.last) for m in ProtectedTermMatcher(entries, KEY, sizes={1}).find(words)] == [(1, 1), (5, 5)]
    # Terms with no length at all would never match: every length is hashed instead.
    assert len(ProtectedTermMatcher(entries, KEY, sizes=set()).find(words)) == 2
    assert ProtectedTermMatcher([], KEY, sizes=set()).find(words) == []
    with pytest.raises(ValueError):
        ProtectedTermMatcher(entries, KEY, sizes={MAX_NGRAM + 1})


def test_remembered_lookups_answer_as_hashing_does(monkeypatch):
    # The matcher remembers what each n-gram matched; a remembered answer, a cleared memory and a
    # fresh matcher must all agree.
    monkeypatch.setattr(protected, "_SEEN_MAX", 5)  # cleared several times below
    entries = [(term_digest("Sam", KEY), "child_name"), (term_digest("Sam Lee", KEY), "family_name")]
    posts = [
        ["met", "sam", "lee", "today"],
        ["sam", "and", "lee", "met", "sam"],
        ["lee", "sam", "lee", "sam"],
        ["nobody", "here", "today"],
    ]
    remembering = ProtectedTermMatcher(entries, KEY, sizes={1, 2})
    for words in posts * 3:
        assert remembering.find(words) == ProtectedTermMatcher(entries, KEY, sizes={1, 2}).find(words), words
        assert len(remembering._seen) <= 5


def test_a_repeated_ngram_is_not_hashed_again():
    entries = [(term_digest("Sam", KEY), "child_name"), (term_digest("Sam Lee", KEY), "family_name")]
    words = ["sam", "and", "lee", "met", "sam"]

    class NoHashing:
        def copy(self):
            raise AssertionError("a remembered n-gram was hashed again")

    warm = ProtectedTermMatcher(entries, KEY, sizes={1, 2})
    first = warm.find(words)
    warm._inner = warm._outer = NoHashing()  # type: ignore[assignment]
    assert warm.find(words) == first == [ProtectedMatch(0, 0, "child_name"), ProtectedMatch(4, 4, "child_name")]

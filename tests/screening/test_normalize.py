from __future__ import annotations

import pytest

from app.screening.normalize import normalize, normalize_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello World", "hello world"),
        ("Ｉｎｄｅｐｅｎｄｅｎｃｅ", "independence"),  # NFKC full-width
        ("ﬁne ﬂower", "fine flower"),  # ligatures
        ("Inde\u200bpen\u200cdence\u2060", "independence"),  # zero-width characters
        ("a\x00b\x07c", "abc"),  # control characters
        ("Іndependence Рroject", "independence project"),  # Cyrillic look-alikes
        ("Ιndependence Ρroject", "independence project"),  # Greek look-alikes
        ("Indep3nd3nc3 Pr0j3ct", "independence project"),  # leetspeak
        ("p@ssw0rd", "password"),
        ("I n d e p e n d e n c e  P r o j e c t", "independence project"),  # spaced letters
        ("J.a.c.k", "jack"),  # dotted letters
        ("I.P. management", "ip management"),
        ("Independenceeeee!!", "independencee!!"),  # repeated letters shortened
        ("café naïve", "cafe naive"),  # accents folded
        ("don’t", "don't"),  # typographic apostrophe
        ("the  code   is", "the code is"),  # whitespace collapsed
        ("door code 7 3 1 9", "door code 7319"),  # spaced digits joined
    ],
)
def test_normalized_text(text, expected):
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("ok 4th of July 10am welcome2024", "4th"),  # numbers with suffixes stay
        ("call 07700 900123 now", "07700"),
        ("mail m.ferris@independenceproject.co.uk", "m.ferris@independenceproject.co.uk"),
        ("key dn_sec_7Lk8vR3mT9pZ4wYc7NqHx", "dn_sec_7lk8vr3mt9pz4wyc7nqhx"),
    ],
)
def test_codes_emails_and_numbers_are_not_leet_folded(text, word):
    assert word in normalize(text).text.text


@pytest.mark.parametrize(
    ("text", "needle", "original"),
    [
        ("We love Indep\u200bendence Proj\u200bect!", "independence project", "Indep\u200bendence Proj\u200bect"),
        (
            "at the I n d e p e n d e n c e  P r o j e c t run",
            "independence project",
            "I n d e p e n d e n c e  P r o j e c t",
        ),
        ("hi J.a.c.k!", "jack", "J.a.c.k"),
        ("go Іndependence now", "independence", "Іndependence"),
        ("😀😀 Ｉｎｄｅｐ ok", "indep", "Ｉｎｄｅｐ"),
        ("ﬁne", "fine", "ﬁne"),
    ],
)
def test_offsets_map_back_to_the_evaded_original(text, needle, original):
    norm = normalize(text).text
    start = norm.text.index(needle)
    a, b = norm.to_original(start, start + len(needle))
    assert text[a:b] == original


def test_offsets_on_both_views_are_monotonic_and_in_range():
    text = "Ａ\u200bb c.d.e  ﬁ 7 3 1 9 s3nsory 😂 Іx"
    result = normalize(text)
    for view in (result.base, result.text):
        assert len(view.starts) == len(view.ends) == len(view.text)
        assert all(0 <= s < e <= len(text) for s, e in zip(view.starts, view.ends, strict=True))
        assert list(view.starts) == sorted(view.starts)


@pytest.mark.parametrize("text", ["", "\u200b\u200b", "\ud800", "😂" * 3, "שלום עולם", "\x00"])
def test_degenerate_inputs(text):
    result = normalize(text)
    assert result.text.to_original(0, 0) == (0, 0) or result.text.text

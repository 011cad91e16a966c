"""Evasion-resistant text normalisation with an offset map back to the original text.

Two views are produced, each with per-character offsets into the original string:

* ``base``: Unicode compatibility-folded (NFKD, combining marks dropped, i.e. NFKC plus accent
  folding), casefolded, invisible and control characters removed, Cyrillic/Greek look-alikes folded
  to Latin, whitespace mapped to spaces. Digits and symbols are untouched, so secrets and numbers are
  read from this view.
* ``text``: ``base`` plus word-level de-obfuscation: spaced or dotted letters joined
  (``"c h a r i t y"``, ``"J.a.c.k"``), leetspeak folded inside words (``"s3nsory"``), runs of a
  repeated letter shortened and whitespace collapsed. Lexicons and names are matched here.

Every rewrite is a linear scan (``re`` patterns without nested quantifiers), so normalisation is
O(n) in the length of the post.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate

# Cyrillic and Greek letters that render like Latin ones (after casefolding), plus typographic
# punctuation that should compare equal to ASCII.
_HOMOGLYPHS = {
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d",
    "һ": "h", "ԛ": "q", "ԝ": "w", "ү": "y", "ɡ": "g", "ı": "i",
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "μ": "u", "ν": "v", "ο": "o",
    "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ς": "s", "σ": "o", "γ": "y",
    "\u2018": "'", "\u2019": "'", "\u02bc": "'", "\u2032": "'", "`": "'",
    "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u00b7": ".",
}  # fmt: skip
_LEET = {"3": "e", "0": "o", "1": "i", "4": "a", "5": "s", "@": "a", "$": "s", "7": "t"}
_WS = "\t\n\r\x0b\x0c"

# Runs of >= 3 single characters split by one separator ("c h a r i t y"), or >= 2 split by dots
# ("j.a.c.k", "i.p."). The lookarounds keep real one-letter words ("a", "i") out of the run.
_SPACED = re.compile(r"(?<![^\W_])[^\W_](?:[ .\-*_][^\W_](?![^\W_])){2,}")
_DOTTED = re.compile(r"(?<![^\W_])[^\W\d_](?:\.[^\W\d_](?![^\W_])){1,}\.?")
# A word containing a leet character between letters, e.g. "s3nsory", "c0de", "pr0j3ct".
_LEETWORD = re.compile(r"(?<![\w@$])[\w@$]*?(?:[^\W\d_][013457@$]|[013457@$][^\W\d_])[\w@$]*")
_NUMERIC_SUFFIX = re.compile(r"\d+(?:st|nd|rd|th|am|pm|s|k|m|kg|km|yo|yrs?|mins?|hrs?|x|p|mg|ml)")
_DOMAIN_TAIL = re.compile(r"[\w\-]{0,63}\.[^\W\d_]")
_REPEAT = re.compile(r"([^\W\dw_])\1{2,}")
_MULTISPACE = re.compile(r"\s\s+")  # not \s{2,}: a leading class lets `re` skip non-space runs fast

# Cheap necessary conditions for the rewrites above. Each finds the first place a match could
# start, so the full pattern (slow: a lookbehind or Unicode category test at every character)
# runs from there, or not at all. They start with a literal or a small set, which `re` skips to.
# A dotted run holds "." + a lone letter; a spaced run a separator, a lone character, a
# separator and another lone character; a repeat three equal characters; a leet word a leet
# character next to a letter (the match then starts at that word's start, at or after the
# previous space).
_DOTTED_HINT = re.compile(r"\.[^\W\d_](?![^\W_])")
_SPACED_HINT = re.compile(r"[ .\-*_][^\W_][ .\-*_][^\W_](?![^\W_])")
_REPEAT_HINT = re.compile(r"(.)\1\1", re.DOTALL)
_LEET_HINT = re.compile(r"[013457@$](?:(?<=[^\W\d_].)|[^\W\d_])")
# Word tokens, captured so that split() returns them between the gaps; and their exact ASCII form
# (faster: ranges rather than Unicode category lookups; [^\W_] on ASCII text is [A-Za-z0-9]).
_TOKEN_SPLIT = re.compile(r"([^\W_]+(?:'[^\W_]+)*)")
_ASCII_TOKEN_SPLIT = re.compile(r"([A-Za-z0-9]+(?:'[A-Za-z0-9]+)*)")


@dataclass(frozen=True, slots=True)
class NormText:
    """A normalised string plus, for each of its characters, the original ``[start, end)``."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    original_length: int

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a half-open span of the normalised text to a span of the original text.

        Args:
            start: Start offset in ``text``.
            end: End offset in ``text`` (exclusive).

        Returns:
            ``(start, end)`` in the original string, covering every original character that
            produced the normalised span (including dropped invisible characters inside it).

        """
        n = len(self.text)
        if not n:
            return (0, 0)
        # Clamp into the text with comparisons (called for every signal: cheaper than min/max calls).
        if start < 0:
            start = 0
        elif start >= n:
            start = n - 1
        if end <= start:
            end = start + 1
        elif end > n:
            end = n
        return (self.starts[start], self.ends[end - 1])


_SPECIAL = re.compile(r"[^\x20-\x7e]")
_FOLD_CACHE: dict[str, str] = {}


def _fold_char(ch: str) -> str:
    """Return what one non-printable-ASCII character becomes ("" to drop it); memoised."""
    cached = _FOLD_CACHE.get(ch)
    if cached is not None:
        return cached
    code = ord(ch)
    if ch in _WS or ch in "\u2028\u2029\x85":
        rep = " "
    elif code < 128 or 0xD800 <= code <= 0xDFFF:  # control character or lone surrogate
        rep = ""
    else:
        cat = unicodedata.category(ch)
        if cat in ("Cf", "Cc", "Co", "Cn") or cat.startswith("M"):
            rep = ""
        elif cat == "Zs":
            rep = " "
        elif ch in _HOMOGLYPHS:
            rep = _HOMOGLYPHS[ch]
        else:
            decomposed = unicodedata.normalize("NFKD", ch)
            rep = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
            rep = "".join(_HOMOGLYPHS.get(c, c) for c in rep)
    if len(_FOLD_CACHE) < 65536:  # bounded: adversarial text cannot grow it without limit
        _FOLD_CACHE[ch] = rep
    return rep


def _char_fold(text: str) -> tuple[str, Sequence[int], Sequence[int]]:
    """Apply the per-character folds; return text plus start/end maps.

    Printable ASCII runs are lowered in bulk; only the other characters go through the per-character
    fold, so a post with a few emoji costs little more than a plain one.
    """
    if not _SPECIAL.search(text):
        folded = text.lower().replace("`", "'")
        # Tuples straight away: NormText keeps them as they are (tuple() of a tuple is free).
        return folded, tuple(range(len(text))), tuple(range(1, len(text) + 1))
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    last = 0
    for m in _SPECIAL.finditer(text):
        i = m.start()
        if i > last:
            out.append(text[last:i].lower().replace("`", "'"))
            starts.extend(range(last, i))
            ends.extend(range(last + 1, i + 1))
        rep = _fold_char(m.group(0))
        if rep:
            out.append(rep)
            starts.extend([i] * len(rep))
            ends.extend([i + 1] * len(rep))
        last = i + 1
    if last < len(text):
        out.append(text[last:].lower().replace("`", "'"))
        starts.extend(range(last, len(text)))
        ends.extend(range(last + 1, len(text) + 1))
    return "".join(out), starts, ends


def _rewrite(
    text: str, starts: Sequence[int], ends: Sequence[int], pattern: re.Pattern[str], repl, pos: int = 0
) -> tuple[str, Sequence[int], Sequence[int]]:
    """Replace matches of ``pattern`` with ``repl(match) -> list[(char, src_index)]``.

    ``src_index`` is an index into the current text; the maps follow it. Returns the inputs
    unchanged when nothing matches (the common case), so clean posts pay only for the scan.
    The scan starts at ``pos``, which the caller guarantees no match starts before (lookbehinds
    still see the text before it).
    """
    pieces: list[str] = []
    new_starts: list[int] = []
    new_ends: list[int] = []
    last = 0
    changed = False
    for m in pattern.finditer(text, pos):
        produced = repl(m)
        if produced is None:
            continue
        changed = True
        pieces.append(text[last : m.start()])
        new_starts.extend(starts[last : m.start()])
        new_ends.extend(ends[last : m.start()])
        if produced:
            first_src = produced[0][1]
            last_src = produced[-1][1]
            for k, (ch, src) in enumerate(produced):
                pieces.append(ch)
                # The first produced char starts at the match start and the last one ends at the
                # match end, so a span over the whole rewrite covers the whole evaded text.
                new_starts.append(starts[m.start()] if k == 0 else starts[src])
                new_ends.append(ends[m.end() - 1] if k == len(produced) - 1 else ends[src])
            del first_src, last_src
        last = m.end()
    if not changed:
        return text, starts, ends
    pieces.append(text[last:])
    new_starts.extend(starts[last:])
    new_ends.extend(ends[last:])
    return "".join(pieces), new_starts, new_ends


def _join_spaced(m: re.Match[str]) -> list[tuple[str, int]] | None:
    s = m.group(0)
    base = m.start()
    return [(c, base + k) for k, c in enumerate(s) if c.isalnum()]


def _fold_leet(m: re.Match[str]) -> list[tuple[str, int]] | None:
    word = m.group(0)
    if word.isalpha() or len(word) < 3:
        return None
    leet_chars = sum(1 for c in word if c in _LEET)
    if not leet_chars:
        return None
    letters = sum(1 for c in word if c.isalpha())
    # Keep codes and secrets ("4471#", "welcome2024", "dn_sec_7lk8") out: a leet word is mostly
    # letters, and numbers with unit or ordinal suffixes ("4th", "10am") are not leet.
    if letters < 2 or letters < leet_chars or _NUMERIC_SUFFIX.fullmatch(word):
        return None
    digits = sum(1 for c in word if c.isdigit())
    if ("_" in word or len(word) >= 16) and digits >= 2:  # a key or token, not a disguised word
        return None
    at = word.find("@", 1)
    if at > 0 and _DOMAIN_TAIL.match(m.string, m.start() + at + 1):  # an email address
        return None
    if word[0] == "@":  # a handle: keep the sigil, fold the rest
        body = [(_LEET.get(c, c), m.start() + k) for k, c in enumerate(word) if k]
        return [("@", m.start()), *body]
    return [(_LEET.get(c, c), m.start() + k) for k, c in enumerate(word)]


def _shorten_repeat(m: re.Match[str]) -> list[tuple[str, int]]:
    return [(m.group(1), m.start()), (m.group(1), m.start() + 1)]


def _single_space(m: re.Match[str]) -> list[tuple[str, int]]:
    return [(" ", m.start())]


@dataclass(frozen=True, slots=True)
class Normalized:
    """Both normalised views of a post (see module docstring)."""

    base: NormText
    text: NormText


def normalize(original: str) -> Normalized:
    """Normalise ``original`` into the base and de-obfuscated views.

    Args:
        original: The post as submitted (any Unicode, may contain lone surrogates).

    Returns:
        Both views with offset maps into ``original``.

    """
    text, starts, ends = _char_fold(original)
    base_starts, base_ends = starts, ends
    base = NormText(text, tuple(starts), tuple(ends), len(original))
    if (m := _DOTTED_HINT.search(text)) is not None:
        text, starts, ends = _rewrite(text, starts, ends, _DOTTED, _join_spaced, max(0, m.start() - 1))
    if (m := _SPACED_HINT.search(text)) is not None:
        text, starts, ends = _rewrite(text, starts, ends, _SPACED, _join_spaced, max(0, m.start() - 1))
    if (m := _LEET_HINT.search(text)) is not None:
        word_start = text.rfind(" ", 0, m.start()) + 1
        text, starts, ends = _rewrite(text, starts, ends, _LEETWORD, _fold_leet, word_start)
    if (m := _REPEAT_HINT.search(text)) is not None:
        text, starts, ends = _rewrite(text, starts, ends, _REPEAT, _shorten_repeat, m.start())
    # Folded ASCII text has no whitespace but " " (only non-ASCII folds could leave other kinds).
    if "  " in text or not text.isascii():
        text, starts, ends = _rewrite(text, starts, ends, _MULTISPACE, _single_space)
    if starts is base_starts and ends is base_ends:  # nothing rewritten (the common case): share the maps
        return Normalized(base, NormText(text, base.starts, base.ends, len(original)))
    return Normalized(base, NormText(text, tuple(starts), tuple(ends), len(original)))


def normalize_text(value: str) -> str:
    """Return the de-obfuscated normalised form of ``value`` (no offsets), stripped."""
    return normalize(value).text.text.strip()


def tokens(text: str) -> list[tuple[int, int, str]]:
    """Split a normalised text into word tokens ``(start, end, token)``."""
    return tokens_and_words(text)[0]


def tokens_and_words(text: str) -> tuple[list[tuple[int, int, str]], list[str]]:
    """Return :func:`tokens` of ``text`` and, separately, the list of the tokens' strings."""
    # split() alternates gaps and tokens; the running total of their lengths gives every offset,
    # without a Python-level call per token.
    parts = (_ASCII_TOKEN_SPLIT if text.isascii() else _TOKEN_SPLIT).split(text)
    offsets = list(accumulate(map(len, parts)))
    words = parts[1::2]
    return list(zip(offsets[0:-1:2], offsets[1::2], words, strict=True)), words

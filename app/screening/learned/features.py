"""Features of the clause classifiers: pure functions shared by training and serving.

Text features are read from the engine's normalised text (casefolded, look-alike letters folded,
leetspeak and spaced letters joined), so an evasion and its plain spelling give the same features:

* ``w:<word>`` and ``b:<word> <word>``: word unigrams and bigrams;
* ``c:<n-gram>``: character 3- and 4-grams inside each word padded with spaces (``" car"``), which
  carry inflections, typos and dialect spellings (in grouped cross-validation 2-grams and 5-grams
  added nothing, and each cost a quarter of the scoring time);
* ``p:<symbol>``: punctuation and emoji (a question mark, an angry face).

Digits become ``0`` first, so a door code, a phone number and a year are told apart by their shape,
never by their value (the model must not learn, or leak, any particular code).

Meta features are binary tokens for what is not in the words: the author's role, the platform, the
account, a prior authority grant, a registration email (and whether it is on the organisation's
domain), and the kinds of signal the deterministic detectors found. They are kept apart from the
TF-IDF block so that a long post does not dilute them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from app.screening.types import ScreenContext

CHAR_MIN = 3
CHAR_MAX = 4

_DIGIT = re.compile(r"\d")
_SYMBOL = re.compile(r"[^\w\s'\"\-.,:;()/&#@]")


def word_shape(word: str) -> str:
    """Return ``word`` with every digit replaced by ``0`` (the value of a number never matters)."""
    return _DIGIT.sub("0", word) if any(c.isdigit() for c in word) else word


def char_ngrams(word: str) -> list[str]:
    """Return the padded character n-grams (``CHAR_MIN`` .. ``CHAR_MAX``) of one shaped word."""
    padded = f" {word} "
    size = len(padded)
    return ["c:" + padded[i : i + n] for n in range(CHAR_MIN, CHAR_MAX + 1) if n <= size for i in range(size - n + 1)]


def text_features(words: Iterable[str], text: str) -> list[str]:
    """Return the text feature strings of one post, repeated as often as they occur.

    Args:
        words: The normalised text's word tokens, in order.
        text: The normalised text itself (for punctuation and emoji).

    Returns:
        Feature strings; the TF-IDF vectoriser counts them.

    """
    shaped = [word_shape(w) for w in words]
    out: list[str] = []
    for w in shaped:
        out.append("w:" + w)
        out.extend(char_ngrams(w))
    out.extend(f"b:{a} {b}" for a, b in zip(shaped, shaped[1:], strict=False))
    out.extend("p:" + s for s in symbols(text))
    return out


def symbols(text: str) -> list[str]:
    """Return the punctuation marks and emoji of a normalised text that carry tone (``?``, ``!``, 😡)."""
    return _SYMBOL.findall(text)


def context_features(context: ScreenContext, org_email_domains: Iterable[str]) -> list[str]:
    """Return the meta features that describe the post's context.

    Args:
        context: Author role, platform, account, prior authority and registration email.
        org_email_domains: The organisation's email domains (from the pack), lower case.

    Returns:
        Binary feature names.

    """
    out = [f"role:{context.author_role.value}", f"platform:{context.platform or 'other'}",
           f"account:{context.account}"]  # fmt: skip
    if context.prior_authority:
        out.append("authority")
    email = (context.registration_email or "").strip().lower()
    if email:
        out.append("signup")
        domain = email.rpartition("@")[2]
        if any(domain == d or domain.endswith("." + d) for d in org_email_domains):
            out.append("signup:org_domain")
    return out


def signal_features(kinds: Iterable[str], findings: Iterable[tuple[str, str]]) -> list[str]:
    """Return the meta features for the deterministic layer's output.

    Args:
        kinds: Kinds of the signals the detectors emitted (e.g. ``pii.phone``).
        findings: ``(rule_id, action)`` of each exact-evidence finding.

    Returns:
        Binary feature names, sorted and distinct.

    """
    out = {f"sig:{k}" for k in kinds}
    out.update(f"det:{rule}:{action}" for rule, action in findings)
    return sorted(out)

"""Secrets and access information.

Passwords, PINs, door/keypad/alarm codes, Wi-Fi keys, API keys, tokens, logins, and where keys
or codes are kept.
"""

from __future__ import annotations

import bisect
import re
from typing import ClassVar

import regex

from app.policy.pack import PolicyPack
from app.screening.detectors.base import Doc, LexiconDetector, Signal
from app.screening.types import ScreenContext

# KEY=value assignments in configs and pasted environment files.
_ASSIGNMENT = re.compile(
    r"\b[a-z0-9_]{0,40}(?:secret|token|api_?key|apikey|password|passwd|pwd|private_?key|"
    r"access_?key|client_?secret)[a-z0-9_]{0,40} ?[=:] ?[\"']?[a-z0-9_\-./+]{8,200}"
)
# Words after a credential keyword that end the search for its value ("changed in 2019").
_STOP = frozenset(
    "in since by last from until after before years year times days minutes weeks months ago and but so because".split()
)
_LINKS = frozenset("is are was = : - / now to as be with its it's here's new still".split())
_CHUNK = re.compile(r"\S+")
# Digits spelled out ("four seven one two", "oh double seven"): a code read aloud is still a code.
# A closed class of English words, like _STOP and _LINKS; the value of each never matters.
_DIGIT_WORDS = frozenset("zero oh o nought nil one two three four five six seven eight nine".split())
_REPEAT_WORDS = frozenset({"double", "triple"})
_LEET_WORD = re.compile(r"[a-z]+(?:[013457]+[a-z]+)+")
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")


def _looks_secret(chunk: str) -> bool:
    """Return True for a value worth hiding: it has a digit (codes, 'sunflower!23') and is not just a price or time."""
    core = chunk.strip("\"'()[]{}<>,;.!?")
    if len(core) < 3 or not any(c.isdigit() for c in core):
        return False
    if core[0] in "£$€" or core.endswith(("%", "am", "pm", "th", "st", "nd", "rd", "mins", "hrs")):
        return False
    if _LEET_WORD.fullmatch(core):  # "w0rk", "c0de": a disguised word, not a value
        return False
    return not re.fullmatch(r"\d{1,2}[:.]\d{2}", core)


def _spelled_digits(chunks: list[re.Match[str]]) -> int | None:
    """Return where a run of 3+ digits with at least one spelled out ends ("four 7 one two"), or None."""
    digits = 0
    spelled = False
    end = None
    for m in chunks:
        parts = m.group(0).rstrip(",;.!?").split("-")
        if not all(p in _DIGIT_WORDS or p in _REPEAT_WORDS or (p.isdigit() and len(p) <= 4) for p in parts):
            break
        for p in parts:
            spelled = spelled or not p.isdigit()
            digits += len(p) if p.isdigit() else p in _DIGIT_WORDS
        end = m.start() + len(m.group(0).rstrip(",;.!?"))
    return end if spelled and digits >= 3 else None


def _spelled_after(text: str, pos: int) -> tuple[int, int] | None:
    """Find a code spelled out in words right after a keyword, or after a linking word (same sentence)."""
    window = text[pos : pos + 90]
    stop = _SENTENCE_END.search(window)
    if stop:
        window = window[: stop.start() + 1]
    chunks = list(_CHUNK.finditer(window))[:8]
    for k, m in enumerate(chunks):
        chunk = m.group(0)
        if k <= 1 or chunks[k - 1].group(0) in _LINKS or chunks[k - 1].group(0).endswith((":", "=")):
            end = _spelled_digits(chunks[k:])
            if end is not None:
                return pos + m.start(), pos + end
        if chunk.strip(",;:") in _STOP:
            return None
    return None


class SecretsDetector(LexiconDetector):
    """Find credentials, where keys are kept, and hints that make a credential guessable.

    Signals: ``secret.credential`` [CODE]/[SECRET] (a value after a credential keyword, a
    ``KEY=value`` assignment, a known token shape), ``secret.spelled_code`` [CODE] (a code spelled
    out in words after a keyword: redacted, but not a feature of the shipped clause model),
    ``secret.location`` (where keys, codes or passwords are kept), ``secret.hint`` (guessable
    schemes, guest Wi-Fi, a door that does not latch), ``secret.keyword`` (a credential is being
    discussed), ``secret.premises`` (door, keypad, alarm: codes that are about premises by
    nature), ``secret.personal`` and ``secret.work`` (context deciding whose credential it is).

    Args:
        pack: The policy pack (token shapes in ``patterns.secret_tokens``, regex timeout).

    """

    name: ClassVar[str] = "secrets"
    version: ClassVar[str] = "1"
    categories: ClassVar[frozenset[str]] = frozenset({"access"})
    lexicons: ClassVar[tuple[str, ...]] = (
        "credential_terms",
        "premises_code_terms",
        "key_objects",
        "key_locations",
        "secret_hints",
        "secret_personal_context",
        "work_context",
    )
    signal_table: ClassVar[dict[str, tuple[str, float]]] = {
        "secret_personal_context": ("secret.personal", 0.0),
        "work_context": ("secret.work", 0.0),
        "premises_code_terms": ("secret.premises", 0.4),
    }

    def __init__(self, pack: PolicyPack) -> None:
        super().__init__(pack)
        token_pattern = pack.patterns.get("secret_tokens")
        # Pack-supplied patterns are untrusted configuration: the regex module with a timeout.
        self._tokens = regex.compile(token_pattern) if token_pattern else None
        self._timeout = pack.thresholds.regex_timeout_s

    def extra(self, doc: Doc, *, context: ScreenContext) -> list[Signal]:
        """Pair keywords with values and locations; look for assignments and token shapes."""
        out: list[Signal] = []
        keywords = doc.get("credential_terms") + doc.get("premises_code_terms")
        keywords.sort(key=lambda h: h.start)
        for hit in keywords:
            out.append(Signal("secret.keyword", doc.span(hit.start, hit.end), 0.4, self.name,
                              hit.category, hit.entry))  # fmt: skip
            # Read the value from the base view: leetspeak folding would turn "Password1" into
            # "passwordi" and hide the digits that make it a secret.
            base_pos = bisect.bisect_left(doc.norm.base.starts, doc.span(hit.start, hit.end).end)
            value = self._value_after(doc.base, base_pos)
            if value:
                start, end = value
                chunk = doc.base[start:end]
                numeric = chunk.replace(" ", "").rstrip("#*").isdigit()
                placeholder = "[CODE]" if numeric else "[SECRET]"
                out.append(Signal("secret.credential", doc.base_span(start, end), 0.9, self.name,
                                  hit.category, hit.entry, placeholder=placeholder))  # fmt: skip
            spelled = _spelled_after(doc.base, base_pos)
            if spelled:
                out.append(Signal("secret.spelled_code", doc.base_span(*spelled), 0.9, self.name,
                                  hit.category, hit.entry, placeholder="[CODE]"))  # fmt: skip
        locations = doc.get("key_locations")
        if locations:
            for obj in doc.get("key_objects"):
                for loc in locations:
                    if 0 <= loc.start - obj.end <= 70 or 0 <= obj.start - loc.end <= 25:
                        out.append(Signal("secret.location", doc.span(obj.start, loc.end), 0.85,
                                          self.name, "key_location", loc.entry))  # fmt: skip
                        break
        for hint in doc.get("secret_hints"):
            out.append(Signal("secret.hint", doc.span(hint.start, hint.end), 0.6, self.name,
                              "secret_hints", hint.entry))  # fmt: skip
        base = doc.base
        if "=" in base or ":" in base:
            for m in _ASSIGNMENT.finditer(base):
                out.append(Signal("secret.credential", doc.base_span(m.start(), m.end()), 0.95,
                                  self.name, "assignment", placeholder="[SECRET]"))  # fmt: skip
        if self._tokens is not None:
            try:
                for t in self._tokens.finditer(base, timeout=self._timeout):
                    out.append(Signal("secret.credential", doc.base_span(t.start(), t.end()),
                                      0.95, self.name, "token_shape", placeholder="[SECRET]"))  # fmt: skip
            except TimeoutError:
                out.append(Signal("detector.timeout", doc.base_span(0, 1), 0.0, self.name,
                                  "secret_tokens", validation="regex_timeout"))  # fmt: skip
        return out

    @staticmethod
    def _value_after(text: str, pos: int) -> tuple[int, int] | None:
        """Find a secret-looking value within the few words after a keyword (same sentence)."""
        window = text[pos : pos + 90]
        stop = _SENTENCE_END.search(window)
        if stop:
            window = window[: stop.start() + 1]
        linked = False
        chunks = list(_CHUNK.finditer(window))[:12]
        # After a stop word ("in", "since") only a value right behind a later link word counts:
        # "wifi sorted, if ur in this week it's X" names X; "password changed in 2019" names nothing.
        after_stop = False
        link_k = -1
        for k, m in enumerate(chunks):
            chunk = m.group(0)
            word = chunk.strip(",;:")
            if word.isdigit() and len(word) < 3:
                # A code split into groups ("12 34", "5 51 2"): join consecutive digit groups.
                end_m = m
                digits = len(word)
                for nxt in chunks[k + 1 :]:
                    part = nxt.group(0).rstrip(",;.!?")
                    if not part.rstrip("#*").isdigit() or len(part) > 4:
                        break
                    end_m, digits = nxt, digits + len(part)
                if digits >= 3 and (k <= 1 or linked):
                    return pos + m.start(), pos + end_m.start() + len(end_m.group(0).rstrip(",;.!?"))
            if _looks_secret(chunk):
                # Right after the keyword, or after a linking word ("is", "=", "now", "/").
                if (k <= 1 and not after_stop) or (linked and (not after_stop or k - link_k <= 2)):
                    core_start = m.start() + (len(chunk) - len(chunk.lstrip("\"'([")))
                    core_end = m.start() + len(chunk.rstrip("\"')],;.!?"))
                    return pos + core_start, pos + core_end
                return None
            if word in _STOP:
                if not any(c.group(0) in _LINKS for c in chunks[k + 1 :]):
                    return None
                after_stop, linked = True, False
                continue
            if word in _LINKS or chunk.endswith((":", "=")):
                linked, link_k = True, k
        return None

"""Shared detector contract: the parsed document, the signal type and the Detector protocol."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar, Protocol, runtime_checkable

from app.policy.pack import PolicyPack
from app.screening.lexicon import Hit
from app.screening.normalize import Normalized, tokens_and_words
from app.screening.types import ScreenContext, Span

_DIGIT = re.compile(r"\d")


class Signal:
    """One piece of evidence a detector found; rules combine signals into findings.

    A plain slotted class rather than a frozen dataclass: a post makes several and the frozen
    ``__init__`` (one ``object.__setattr__`` per field) dominated their cost. Signals never leave
    the engine and nothing mutates them; equality and hashing are by value, as before.

    Attributes:
        kind: Dotted signal name, e.g. ``"org.explicit"`` or ``"secret.credential"``.
        span: Where in the ORIGINAL text.
        score: Base strength 0..1.
        detector: Name of the detector that produced it.
        pattern_name: Lexicon category or pattern name.
        entry: The lexicon entry or matched value class (never a secret's plain text).
        placeholder: Typed placeholder for suggested_text (``"[PHONE]"``), if it is redactable.
        validation: Result of a validity check, if one ran.

    """

    __slots__ = ("kind", "span", "score", "detector", "pattern_name", "entry", "placeholder", "validation")

    kind: str
    span: Span
    score: float
    detector: str
    pattern_name: str | None
    entry: str | None
    placeholder: str | None
    validation: str | None

    def __init__(
        self,
        kind: str,
        span: Span,
        score: float,
        detector: str,
        pattern_name: str | None = None,
        entry: str | None = None,
        placeholder: str | None = None,
        validation: str | None = None,
    ) -> None:
        self.kind = kind
        self.span = span
        self.score = score
        self.detector = detector
        self.pattern_name = pattern_name
        self.entry = entry
        self.placeholder = placeholder
        self.validation = validation

    def _key(self) -> tuple[object, ...]:
        return (self.kind, self.span, self.score, self.detector, self.pattern_name, self.entry,
                self.placeholder, self.validation)  # fmt: skip

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not Signal:
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"Signal(kind={self.kind!r}, span={self.span!r}, score={self.score!r}, detector={self.detector!r}, "
            f"pattern_name={self.pattern_name!r}, entry={self.entry!r}, placeholder={self.placeholder!r}, "
            f"validation={self.validation!r})"
        )


@dataclass(slots=True)
class Doc:
    """A post prepared for detection: original text, normalised views and keyword hits.

    Attributes:
        original: The post exactly as submitted.
        norm: Normalised views with offset maps.
        hits: Lexicon hits over ``norm.text`` grouped by category.

    """

    original: str
    norm: Normalized
    hits: dict[str, list[Hit]]
    _tokens: list[tuple[int, int, str]] | None = field(default=None, repr=False)
    _words: list[str] | None = field(default=None, repr=False)
    _has_digit: bool | None = field(default=None, repr=False)

    @property
    def has_digit(self) -> bool:
        """Return True if the post contains a digit (gates the number patterns)."""
        if self._has_digit is None:
            self._has_digit = _DIGIT.search(self.norm.base.text) is not None
        return self._has_digit

    @property
    def text(self) -> str:
        """Return the de-obfuscated normalised text."""
        return self.norm.text.text

    @property
    def base(self) -> str:
        """Return the character-folded text (digits and symbols intact)."""
        return self.norm.base.text

    @property
    def tokens(self) -> list[tuple[int, int, str]]:
        """Return word tokens of ``text`` as ``(start, end, token)``."""
        if self._tokens is None:
            self._tokens, self._words = tokens_and_words(self.text)
        return self._tokens

    @property
    def words(self) -> list[str]:
        """Return the strings of :attr:`tokens`, in order (callers must not mutate the list)."""
        if self._words is None:
            self._tokens, self._words = tokens_and_words(self.text)
        return self._words

    def span(self, start: int, end: int) -> Span:
        """Map a ``text``-view span to the original text."""
        return Span(*self.norm.text.to_original(start, end))

    def base_span(self, start: int, end: int) -> Span:
        """Map a ``base``-view span to the original text."""
        return Span(*self.norm.base.to_original(start, end))

    def get(self, category: str) -> list[Hit]:
        """Return the hits of one lexicon category (empty list if none)."""
        return self.hits.get(category, [])

    def has(self, *categories: str) -> bool:
        """Return True if any of ``categories`` has a hit."""
        return any(c in self.hits for c in categories)


@runtime_checkable
class Detector(Protocol):
    """What the registry and engine need from a detector.

    Attributes:
        name: Unique, stable detector name.
        version: Bumped whenever the detector's behaviour changes.
        categories: The policy's concepts this detector gives evidence of (``access``, ``people``...),
            named apart from any pack's clause ids.
        lexicons: Lexicon categories of the pack it needs scanned (the engine scans them once).

    """

    name: ClassVar[str]
    version: ClassVar[str]
    categories: ClassVar[frozenset[str]]
    lexicons: ClassVar[tuple[str, ...]]

    def detect(self, doc: Doc, *, context: ScreenContext) -> list[Signal]:
        """Find evidence in one post.

        Args:
            doc: The prepared post.
            context: Facts about the post that are not in its text.

        Returns:
            Signals in original-text offsets; an empty list when nothing is found.

        """
        ...


class BaseDetector:
    """Convenience base: stores the pack and turns lexicon hits into signals.

    Args:
        pack: The validated policy pack; subclasses compile what they need from it here (no I/O).

    """

    name: ClassVar[str] = "base"
    version: ClassVar[str] = "1"
    categories: ClassVar[frozenset[str]] = frozenset()
    lexicons: ClassVar[tuple[str, ...]] = ()

    def __init__(self, pack: PolicyPack) -> None:
        self.pack = pack
        for key in self.lexicons:
            pack.lexicon(key)  # fail loudly at start-up if the pack lacks one

    def hits_to_signals(self, doc: Doc, category: str, kind: str, score: float, **extra: str | None) -> list[Signal]:
        """Turn every hit of ``category`` into a signal of ``kind``.

        Args:
            doc: The prepared post.
            category: Lexicon category to read.
            kind: Signal kind to emit.
            score: Base score for each signal.
            **extra: Extra Signal fields (placeholder, validation).

        Returns:
            One signal per hit.

        """
        return [
            Signal(kind, doc.span(h.start, h.end), score, self.name, category, h.entry, **extra)
            for h in doc.get(category)
        ]

    def detect(self, doc: Doc, *, context: ScreenContext) -> list[Signal]:  # pragma: no cover
        """Find evidence in one post (subclasses override)."""
        raise NotImplementedError


def covered(span: Span, others: Iterable[Span]) -> bool:
    """Return True if ``span`` overlaps any of ``others``."""
    return any(span.start < o.end and o.start < span.end for o in others)


class LexiconDetector(BaseDetector):
    """A detector that turns lexicon categories into signals through a fixed table.

    Subclasses set ``signal_table``: ``{lexicon_category: (signal_kind, base_score)}``. Every
    category in the table is scanned by the engine; ``extra()`` may add non-lexicon signals.
    """

    signal_table: ClassVar[dict[str, tuple[str, float]]] = {}

    def detect(self, doc: Doc, *, context: ScreenContext) -> list[Signal]:
        """Emit one signal per lexicon hit of the table's categories, plus ``extra()``.

        Args:
            doc: The prepared post.
            context: Facts about the post.

        Returns:
            Signals in original-text offsets.

        """
        out: list[Signal] = []
        for category, (kind, score) in self.signal_table.items():
            if category in doc.hits:
                out.extend(self.hits_to_signals(doc, category, kind, score))
        out.extend(self.extra(doc, context=context))
        return out

    def extra(self, doc: Doc, *, context: ScreenContext) -> list[Signal]:
        """Return signals beyond the lexicon table (none by default)."""
        return []

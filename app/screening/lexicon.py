"""Keyword triggers: one Aho-Corasick automaton over every lexicon of the policy pack.

Each lexicon entry is normalised exactly like post text, so an entry matches disguised spellings
too. Entries match on whole words; an entry ending in ``*`` matches any word starting with it
(``complain*`` matches "complaint", "complaining"), which covers inflections without listing them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import ahocorasick

from app.screening.normalize import normalize_text


class Hit:
    """A lexicon match in the normalised text: ``[start, end)`` and the matching entry.

    A plain slotted class (cheaper to make than a frozen dataclass); hits never leave the engine
    and nothing mutates them. Equality and hashing are by value.
    """

    __slots__ = ("start", "end", "entry", "category")

    start: int
    end: int
    entry: str
    category: str

    def __init__(self, start: int, end: int, entry: str, category: str) -> None:
        self.start = start
        self.end = end
        self.entry = entry
        self.category = category

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not Hit:
            return NotImplemented
        return (self.start, self.end, self.entry, self.category) == (
            other.start,
            other.end,
            other.entry,
            other.category,
        )

    def __hash__(self) -> int:
        return hash((self.start, self.end, self.entry, self.category))

    def __repr__(self) -> str:
        return f"Hit(start={self.start!r}, end={self.end!r}, entry={self.entry!r}, category={self.category!r})"


def _hit_order(h: Hit) -> tuple[int, int]:
    return (h.start, -h.end)


class Lexicon:
    """Compiled keyword matcher over many named categories.

    Args:
        categories: Mapping of category name to its entries.
        max_hits: Hits kept per category. Rules only need a few pieces of evidence per concept; the
            cap keeps adversarial posts (one phrase repeated 20,000 times) linear downstream.

    """

    def __init__(self, categories: Mapping[str, Iterable[str]], max_hits: int = 100) -> None:
        self.max_hits = max_hits
        self._automaton = ahocorasick.Automaton()
        table: dict[str, list[tuple[str, str, bool]]] = {}
        for category, entries in sorted(categories.items()):
            for raw in entries:
                prefix = raw.endswith("*")
                phrase = normalize_text(raw[:-1] if prefix else raw)
                if not phrase:
                    continue
                table.setdefault(phrase, []).append((category, raw, prefix))
        for phrase, values in table.items():
            self._automaton.add_word(phrase, (len(phrase), tuple(values)))
        self.categories = frozenset(categories)
        self._empty = not table
        if not self._empty:
            self._automaton.make_automaton()

    def scan(self, text: str) -> dict[str, list[Hit]]:
        """Find every whole-word entry in ``text``.

        Args:
            text: Normalised text (the ``text`` view of :func:`normalize`).

        Returns:
            Hits grouped by category, in text order.

        """
        found: dict[str, list[Hit]] = {}
        if self._empty or not text:
            return found
        n = len(text)
        max_hits = self.max_hits
        for end_idx, (length, values) in self._automaton.iter(text):
            start = end_idx - length + 1
            if start > 0 and text[start - 1].isalnum() and text[start].isalnum():
                continue
            end = end_idx + 1
            boundary_ok = end >= n or not (text[end].isalnum() and text[end_idx].isalnum())
            word_end = end
            if not boundary_ok:
                while word_end < n and text[word_end].isalnum():
                    word_end += 1
            for category, entry, prefix in values:
                if boundary_ok:
                    hit_end = end
                elif prefix:
                    hit_end = word_end
                else:
                    continue
                bucket = found.get(category)
                if bucket is None:
                    if max_hits > 0:
                        found[category] = [Hit(start, hit_end, entry, category)]
                elif len(bucket) < max_hits:
                    bucket.append(Hit(start, hit_end, entry, category))
        for hits in found.values():
            if len(hits) > 1:
                hits.sort(key=_hit_order)
        return found

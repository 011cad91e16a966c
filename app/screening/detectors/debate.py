"""Debate: arguing a position in public (threads, letters, press, podcasts) and inside-knowledge hints."""

from __future__ import annotations

import re
from typing import ClassVar

from app.screening.detectors.base import Doc, LexiconDetector, Signal
from app.screening.types import ScreenContext

# Press and broadcaster handles ("@LocalEchoNews") are debate venues even when unnamed in the lexicon.
_MEDIA_HANDLE = re.compile(
    r"@[a-z0-9_]*(?:news|echo|gazette|times|post|herald|press|chronicle|mail|bbc|itv|radio|fm)"
    r"[a-z0-9_]*"
)


class DebateDetector(LexiconDetector):
    """Find public argument, media venues and inside-knowledge hints.

    Signals: ``debate.argue`` (rebutting, correcting, attacking a position), ``debate.opinion``
    (a weaker "I think"), ``debate.media`` (articles, threads, press handles), ``debate.hint``
    ("more to this story"), ``debate.claimed_authority`` ("my manager said I could").

    Args:
        pack: The policy pack.

    """

    name: ClassVar[str] = "debate"
    version: ClassVar[str] = "1"
    categories: ClassVar[frozenset[str]] = frozenset({"debate"})
    lexicons: ClassVar[tuple[str, ...]] = (
        "debate_argue",
        "debate_opinion",
        "debate_media",
        "debate_hint",
        "debate_claimed_authority",
    )
    signal_table: ClassVar[dict[str, tuple[str, float]]] = {
        "debate_argue": ("debate.argue", 0.8),
        "debate_opinion": ("debate.opinion", 0.5),
        "debate_media": ("debate.media", 0.5),
        "debate_hint": ("debate.hint", 0.6),
        "debate_claimed_authority": ("debate.claimed_authority", 0.6),
    }

    def extra(self, doc: Doc, *, context: ScreenContext) -> list[Signal]:
        """Press handles addressed in the post."""
        if "@" not in doc.base:
            return []
        return [
            Signal("debate.media", doc.base_span(m.start(), m.end()), 0.6, self.name, "media_handle")
            for m in _MEDIA_HANDLE.finditer(doc.base)
        ]

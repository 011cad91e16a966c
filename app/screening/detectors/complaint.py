"""Complaint and concern language, including sarcastic hints and insinuations."""

from __future__ import annotations

from typing import ClassVar

from app.screening.detectors.base import Doc, LexiconDetector, Signal
from app.screening.types import ScreenContext

#: How far (characters) a sarcastic marker ("well done to", "love how", "👏👏") may sit from the
#: negative cue that turns praise into a jibe ("... for forgetting to tell anyone").
_SARCASM_WINDOW = 100


class ComplaintDetector(LexiconDetector):
    """Find grievance language; the rule decides whether it is aimed at the organisation.

    Signals: ``complaint.strong`` (explicit grievance: "not good enough", "a nightmare"),
    ``complaint.weak`` ("concerned", "disappointed"), ``complaint.insinuation`` ("funny how",
    "let's just say", and sarcasm: praise next to a grievance, "well done to ... for forgetting",
    or a stock sarcastic phrase, "what could possibly go wrong"), ``complaint.neutral``
    (pointing people to the proper channel, which is the opposite of complaining in public).

    Args:
        pack: The policy pack.

    """

    name: ClassVar[str] = "complaint"
    version: ClassVar[str] = "2"
    categories: ClassVar[frozenset[str]] = frozenset({"complaint"})
    lexicons: ClassVar[tuple[str, ...]] = (
        "complaint_strong",
        "complaint_weak",
        "complaint_insinuation",
        "complaint_neutral",
        "sarcasm_strong",
        "sarcasm_markers",
        "sarcasm_cues",
    )
    signal_table: ClassVar[dict[str, tuple[str, float]]] = {
        "complaint_strong": ("complaint.strong", 0.85),
        "complaint_weak": ("complaint.weak", 0.55),
        "complaint_insinuation": ("complaint.insinuation", 0.6),
        "complaint_neutral": ("complaint.neutral", 0.0),
    }

    def extra(self, doc: Doc, *, context: ScreenContext) -> list[Signal]:
        """Sarcasm: a stock sarcastic phrase, or mock praise within reach of a negative cue."""
        out = [
            Signal("complaint.insinuation", doc.span(h.start, h.end), 0.6, self.name, "sarcasm", h.entry)
            for h in doc.get("sarcasm_strong")
        ]
        markers = doc.get("sarcasm_markers")
        if markers and not out:
            cues = [*doc.get("sarcasm_cues"), *doc.get("complaint_strong"), *doc.get("complaint_weak")]
            for m in markers:
                if any(abs(c.start - m.end) <= _SARCASM_WINDOW or abs(m.start - c.end) <= _SARCASM_WINDOW
                       for c in cues if c.start >= m.start - 20):  # fmt: skip
                    out.append(Signal("complaint.insinuation", doc.span(m.start, m.end), 0.6, self.name,
                                      "sarcasm", m.entry))  # fmt: skip
                    break
        return out

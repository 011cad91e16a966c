"""Complaint and concern language, including sarcastic hints and insinuations."""

from __future__ import annotations

from typing import ClassVar

from app.screening.detectors.base import LexiconDetector


class ComplaintDetector(LexiconDetector):
    """Find grievance language; the rule decides whether it is aimed at the organisation.

    Signals: ``complaint.strong`` (explicit grievance: "not good enough", "a nightmare"),
    ``complaint.weak`` ("concerned", "disappointed"), ``complaint.insinuation`` ("funny how",
    "let's just say"), ``complaint.neutral`` (pointing people to the proper channel, which is the
    opposite of complaining in public).

    Args:
        pack: The policy pack.

    """

    name: ClassVar[str] = "complaint"
    version: ClassVar[str] = "1"
    categories: ClassVar[frozenset[str]] = frozenset({"SM-COMPLAINT"})
    lexicons: ClassVar[tuple[str, ...]] = (
        "complaint_strong",
        "complaint_weak",
        "complaint_insinuation",
        "complaint_neutral",
    )
    signal_table: ClassVar[dict[str, tuple[str, float]]] = {
        "complaint_strong": ("complaint.strong", 0.85),
        "complaint_weak": ("complaint.weak", 0.55),
        "complaint_insinuation": ("complaint.insinuation", 0.6),
        "complaint_neutral": ("complaint.neutral", 0.0),
    }

"""Organisation email registration: signing up to a site with a work address."""

from __future__ import annotations

import unicodedata
from typing import ClassVar

from rapidfuzz import fuzz

from app.policy.pack import PolicyPack
from app.screening.detectors.base import Doc, LexiconDetector, Signal
from app.screening.types import ScreenContext, Span


class OrgEmailDetector(LexiconDetector):
    """Check the registration email of a sign-up, and posts saying a work email was used.

    Signals: ``orgemail.registration`` (the address is on an organisation domain, any case, any
    subdomain, plus-addressing or shared mailbox), ``orgemail.lookalike`` (a domain that imitates
    it: another TLD, hyphens, small misspellings), ``orgemail.said`` ("registered using my work
    address"). The span of a registration signal is empty: the address is not in the text.

    Args:
        pack: The policy pack (email domains).

    """

    name: ClassVar[str] = "org_email"
    version: ClassVar[str] = "1"
    categories: ClassVar[frozenset[str]] = frozenset({"org_email"})
    lexicons: ClassVar[tuple[str, ...]] = ("org_email_said", "signup_terms")
    signal_table: ClassVar[dict[str, tuple[str, float]]] = {
        "org_email_said": ("orgemail.said", 0.6),
        "signup_terms": ("orgemail.signup", 0.3),
    }

    def __init__(self, pack: PolicyPack) -> None:
        super().__init__(pack)
        self._domains = tuple(d.lower().strip(".") for d in pack.organisation.email_domains)
        # The registrable label without punctuation ("example" for example.org.uk), for look-alikes.
        self._labels = tuple(d.split(".")[0].replace("-", "") for d in self._domains)

    def classify(self, email: str) -> str | None:
        """Classify a registration address.

        Args:
            email: The address used to register.

        Returns:
            ``"registration"`` for an organisation domain, ``"lookalike"`` for an imitation,
            ``None`` otherwise.

        """
        # Addresses are not disguised words: fold case and compatibility forms only.
        email = unicodedata.normalize("NFKC", email).strip().casefold().replace(" ", "")
        if "@" not in email:
            return None
        domain = email.rsplit("@", 1)[1].strip(".")
        for d in self._domains:
            if domain == d or domain.endswith("." + d):
                return "registration"
        first = domain.split(".")[0]
        squashed = first.replace("-", "").replace("_", "")
        for label in self._labels:
            if squashed == label or fuzz.ratio(squashed, label) >= 90:
                return "lookalike"
        return None

    def extra(self, doc: Doc, *, context: ScreenContext) -> list[Signal]:
        """Classify ``context.registration_email``."""
        if not context.registration_email:
            return []
        kind = self.classify(context.registration_email)
        if kind is None:
            return []
        score = 0.95 if kind == "registration" else 0.6
        return [Signal(f"orgemail.{kind}", Span(0, 0), score, self.name, "registration_email")]

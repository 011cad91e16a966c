"""Affiliation: the author says (or clearly implies) they work, volunteer or serve there."""

from __future__ import annotations

import re
from typing import ClassVar

from app.policy.pack import PolicyPack
from app.screening.detectors.base import BaseDetector, Doc, Signal
from app.screening.normalize import normalize_text
from app.screening.types import ScreenContext

#: Shared role mailboxes ("admin@", "office@"): quoting one says nothing about whose it is.
_ROLE_MAILBOX = re.compile(
    r"(?:admin|administrator|office|info|enquiries|enquiry|hello|contact|reception|accounts|finance|"
    r"hr|it|support|helpdesk|bookings|noreply|no-reply|postmaster|webmaster|team|staff|general)"
    r"(?:[.+][a-z0-9._%+\-]*)?@"
)


class AffiliationDetector(BaseDetector):
    """Find first-person statements of working, volunteering or serving somewhere.

    Emits ``affil.claim`` for phrases such as "I work at", "our team", "my shift", and
    ``affil.first_person`` for first-person words (an insider naming the organisation while
    talking about themselves or "we" implies they are part of it), and
    ``affil.work_email`` when the post gives a personal address on the organisation's email domain
    (someone sharing their work address is telling you where they work). Whether the workplace is
    the organisation is decided by the rule, which also needs an ``org.*`` signal.

    Args:
        pack: The policy pack.

    """

    name: ClassVar[str] = "affiliation"
    version: ClassVar[str] = "2"
    categories: ClassVar[frozenset[str]] = frozenset({"affiliation"})
    lexicons: ClassVar[tuple[str, ...]] = ("affiliation_claims",)

    def __init__(self, pack: PolicyPack) -> None:
        super().__init__(pack)
        domains = "|".join(re.escape(d.lower()) for d in pack.organisation.email_domains)
        self._work_email = re.compile(
            r"[a-z0-9][a-z0-9._%+\-]{0,63}@(?:[a-z0-9\-]+\.)*(?:" + (domains or "(?!)") + r")\b"
        )
        public = pack.organisation.public_email
        self._public = public.lower() if public else None
        # Pronouns are matched on tokens rather than by the keyword automaton: one-letter entries
        # ("i") would make it report, then reject, every "i" inside every word.
        self._first_person = frozenset(normalize_text(w) for w in pack.lexicon("first_person"))

    def detect(self, doc: Doc, *, context: ScreenContext) -> list[Signal]:
        """Find affiliation claims.

        Args:
            doc: The prepared post.
            context: Unused here; the rule checks the author's role.

        Returns:
            ``affil.*`` signals.

        """
        out = self.hits_to_signals(doc, "affiliation_claims", "affil.claim", 0.8)
        text = doc.text
        # A set test first, so posts without any pronoun skip the per-token loop.
        for start, end, tok in doc.tokens if not self._first_person.isdisjoint(doc.words) else ():
            if tok in self._first_person:
                if (start and text[start - 1] == "-") or text[end : end + 1] == "-":
                    continue  # part of a hyphenated word ("wi-fi", "hi-fi"), not a pronoun
                out.append(Signal("affil.first_person", doc.span(start, end), 0.6, self.name,
                                  "first_person", tok))  # fmt: skip
                break  # one is enough evidence
        if "@" in doc.base:
            for m in self._work_email.finditer(doc.base):
                if m.group(0) != self._public:
                    span = doc.base_span(m.start(), m.end())
                    # A shared role mailbox is still an organisation address (it counts for
                    # sign-ups and work context) but does not say the author works there.
                    name = "role_mailbox" if _ROLE_MAILBOX.match(m.group(0)) else "work_email"
                    out.append(Signal("affil.work_email", span, 0.7, self.name, name))
        return out

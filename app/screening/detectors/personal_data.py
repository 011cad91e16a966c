"""Personal data and references to people who use the service.

Phone numbers, emails, postcodes, NHS numbers, dates of birth, names, ages, health details,
schools, addresses and photos.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import ClassVar

import phonenumbers

from app.policy.pack import PolicyPack
from app.screening.detectors.base import Doc, LexiconDetector, Signal
from app.screening.normalize import normalize_text
from app.screening.types import ScreenContext, Span

# All patterns are linear: bounded repetitions of single-character classes, no nested unbounded
# quantifiers, so a 100 KB adversarial post cannot make them backtrack.
# Where a pattern must not follow some character, the lookbehind comes after the first character
# (``\d(?<![\d\-]\d)`` rather than ``(?<![\d\-])\d``, ``[A-Z](?<!\w[A-Z])`` rather than
# ``\b[A-Z]``): the same matches, but a pattern that starts with a character class lets ``re``
# skip straight to the characters that can start a match instead of trying every position.
_PHONE = re.compile(
    r"(?:\+(?<![\d+]\+)44[\s\-]?(?:\(0\)[\s\-]?)?|\((?<![\d+]\()0|0(?<![\d+]0))(?:[\s\-)]{0,2}\d){9,10}(?!\d)"
)
# A phone number written with the letter O for zero ("O77OO 9OO123"), read from the casefolded
# view: the digit positions of _PHONE also take "o"; a candidate counts only with a letter O in it
# (plain digits are _PHONE's) and when it is a UK number once the Os are read as zeros.
_PHONE_LETTER_O = re.compile(
    r"(?:\+(?<![\w+]\+)44[\s\-]?(?:\([0o]\)[\s\-]?)?|\((?<![\w+]\()[0o]|[0o](?<![\w+][0o]))"
    r"(?:[\s\-)]{0,2}[\do]){9,10}(?![\w])"
)
# A UK National Insurance number: two prefix letters, six digits (often in pairs), a suffix A-D.
# The prefix rules are HMRC's: neither letter D, F, I, Q, U or V, the second not O, and never
# BG, GB, NK, KN, TN, NT or ZZ. Without the suffix only the printed pairs ("AB 12 34 56") count.
_NI = re.compile(r"[a-z](?<![\w][a-z])[a-z] ?(\d\d)( ?)\d\d\2\d\d(?: ?([a-d]))?(?![\w])")
_NI_BAD_LETTERS = frozenset("dfiquv")
_OTHER_DIGIT = re.compile(r"(?![0-9])\d")  # a decimal digit of another script
_NI_BAD_PREFIXES = frozenset({"bg", "gb", "nk", "kn", "tn", "nt", "zz"})
_EMAIL = re.compile(r"[a-z0-9][a-z0-9._%+\-]{0,63}@[a-z0-9\-]{1,63}(?:\.[a-z0-9\-]{1,63}){1,6}")
_POSTCODE = re.compile(r"\b[a-z]{1,2}\d[a-z\d]? ?\d[abd-hjlnp-uw-z]{2}\b")
# A postcode has a letter right before a digit; the match starts at most two characters earlier.
_POSTCODE_HINT = re.compile(r"\d(?<=[a-z]\d)")
_NHS = re.compile(r"\d(?<![\d\-]\d)\d\d[ \-]?\d{3}[ \-]?\d{4}(?![\d\-])")
_DATE = re.compile(
    r"\d(?:(?<!\d\d)\d?[/.\-]\d{1,2}[/.\-](?:\d{4}|\d{2})(?!\d)"
    r"|(?<!\w\d)\d?(?:st|nd|rd|th)? (?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]{0,6},? "
    r"(?:19|20)\d{2}\b)"
)
_NAME_AGE = re.compile(
    r"([A-Z](?<!\w[A-Z])[a-z]{1,20})\s?(?:\(\s?(?:aged? )?(\d{1,2})\s?(?:yrs?|years?|y/?o|lat|ans|años)?\s?\)"
    r"|, (?:aged? )?(\d{1,2})(?: ?(?:yrs?|years? old|y/?o))?(?=[,.)!\s])"
    # ... but not a duration or a time: "the project, 4 years this month", "Jack, 10 mins late".
    r"(?! ?(?:years?|yrs?|months?|weeks?|days?|hours?|hrs?|mins?|minutes?|am|pm)\b(?! old))"
    r"| aged (\d{1,2})\b| \((\d{1,2}) ?(?:yrs?|y/?o)?\))"
)
_TITLED = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr)\.? [A-Z][a-z'\-]{1,20}\b")
_AGE_FIRST = re.compile(
    r"\b(\d{1,2})[- ](?:year|yr)s?[- ]old ([A-Z][a-z]{1,20})\b|\b([A-Z][a-z]{1,20}),? "
    r"(?:who is|who['’]s|is|(?:and )?(?:he|she)(?: is|['’]s)) (?:about |around |nearly |almost |only |just )?"
    r"(\d{1,2})(?: (?:years old|now|today))?\b"
)
#: How far before its first digit an _AGE_FIRST match can start ("Xxxxxxxxxxxxxxxxxxxxx, and she is around 7").
_AGE_FIRST_REACH = 41
# "Tyler's dad": a named child identified through their parent (or the parent through the child).
_NAME_FAMILY = re.compile(
    r"([A-Z](?<!\w[A-Z])[a-z]{1,20})'s (?:mum|mam|mom|mummy|dad|daddy|mother|father|parents|nan|nana|gran|"
    r"granny|grandma|grandad|grandparents|brother|sister|carer|foster carer|family|stepdad|stepmum)\b"
)
_TITLES = ("Mr", "Ms", "Miss", "Mx", "Dr")  # substrings every _TITLED match contains
_DIGIT = re.compile(r"\d")
_CAP_WORD = re.compile(r"[A-Z](?<!\w[A-Z])[a-zA-Z'\-]{1,20}\b")
_SCHOOL = re.compile(
    r"\b(?:St\.? )?(?:[A-Z][a-z']{1,20} ){1,3}(?:Primary|Academy|Infants?|Juniors?|High School|"
    r"School|Nursery|College)\b"
)
_SCHOOL_WORDS = ("Primary", "Academy", "Infant", "Junior", "High School", "School", "Nursery", "College")
_ADDRESS = re.compile(
    r"\d(?<!\w\d)\d{0,3}[A-Za-z]?,? (?:[A-Z][a-z']{1,20} ){1,3}(?:Road|Rd|Street|St|Lane|Ln|Avenue|Ave|"
    r"Close|Drive|Dr|Way|Crescent|Cres|Court|Ct|Grove|Place|Pl|Terrace|Gardens|Gdns|Walk|Mews|"
    r"Row|Square|Sq|Hill|View|Rise|Park)\b"
)
_PHOTO = re.compile(r"\[(?:photo|image|picture|pic|video|screenshot|selfie)s?\b[^\]\n]{0,400}\]")
_NO_FACES = re.compile(
    r"no faces?|faces? (?:hidden|blurred|covered|not (?:visible|shown))|from behind|backs? to|"
    r"silhouette|hands only|only (?:their )?hands|feet only"
)
_PEOPLE = re.compile(r"child|kid|girl|boy|people|young|famil|pupil|teen|lad|baby|group|toddler")


def ni_number_ok(prefix: str) -> bool:
    """Return True if two letters may start a National Insurance number (HMRC's prefix rules)."""
    prefix = prefix.lower()
    return (
        len(prefix) == 2
        and prefix.isalpha()
        and not (_NI_BAD_LETTERS & set(prefix))
        and prefix[1] != "o"
        and prefix not in _NI_BAD_PREFIXES
    )


def ascii_digits(text: str) -> str:
    """Return ``text`` with every decimal digit of any script (Arabic-Indic, full-width...) as ASCII.

    One character for one, so offsets into the result are offsets into ``text``.
    """
    if text.isascii() or _OTHER_DIGIT.search(text) is None:
        return text
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() and not c.isascii() else c for c in text)


def nhs_checksum_ok(digits: str) -> bool:
    """Return True if a 10-digit string passes the NHS number modulus-11 check."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


class PersonalDataDetector(LexiconDetector):
    """Find personal data and references to people who use the service.

    Signals (placeholder in brackets): ``pii.phone`` [PHONE] (possible UK numbers, including
    Ofcom drama ranges that ``is_valid_number`` rejects), ``pii.email`` [EMAIL], ``pii.postcode``
    [POSTCODE], ``pii.nhs`` [NHS_NUMBER] (modulus-11 checked), ``pii.dob`` [DATE], ``pii.date``,
    ``pii.name`` [NAME], ``pii.name_age`` [NAME], ``pii.school`` [SCHOOL], ``pii.address``
    [ADDRESS], ``pii.photo_faces``, ``pii.photo_nofaces``, plus lexicon signals ``pii.health``,
    ``pii.incident``, ``pii.su_ref`` (someone who uses the service), ``pii.family_ref``,
    ``pii.own_child`` and ``pii.child_word``.

    Args:
        pack: The policy pack (first-name list, public contact details to ignore).

    """

    name: ClassVar[str] = "personal_data"
    version: ClassVar[str] = "2"
    categories: ClassVar[frozenset[str]] = frozenset({"confidential", "people"})
    lexicons: ClassVar[tuple[str, ...]] = (
        "health_terms",
        "incident_terms",
        "service_user_refs",
        "family_refs",
        "own_child_refs",
        "child_words",
        "dob_terms",
        "first_names",
        "service_place_refs",
    )
    signal_table: ClassVar[dict[str, tuple[str, float]]] = {
        "health_terms": ("pii.health", 0.5),
        "incident_terms": ("pii.incident", 0.5),
        "service_user_refs": ("pii.su_ref", 0.6),
        "family_refs": ("pii.family_ref", 0.3),
        "own_child_refs": ("pii.own_child", 0.3),
        "child_words": ("pii.child_word", 0.3),
        "service_place_refs": ("pii.service_place", 0.5),
    }

    def __init__(self, pack: PolicyPack) -> None:
        super().__init__(pack)
        self._names = frozenset(normalize_text(n) for n in pack.lexicon("first_names"))
        org = pack.organisation
        self._public_digits = frozenset(re.sub(r"\D", "", p) for p in [*org.phones, org.company_number or ""] if p)
        self._public_email = (org.public_email or "").lower()
        # The words of the organisation's name ("X Project", age 7) are the workplace, never a child.
        self._not_names = _NOT_NAMES | {normalize_text(word) for word in org.name.split()}

    def extra(self, doc: Doc, *, context: ScreenContext) -> list[Signal]:
        """Run the validated patterns (only those the text can match)."""
        out: list[Signal] = []
        base = doc.base
        has_digit = doc.has_digit
        if has_digit:
            out += self._numbers(doc)
        if "@" in base:
            for m in _EMAIL.finditer(base):
                if m.group(0) != self._public_email:
                    out.append(Signal("pii.email", doc.base_span(m.start(), m.end()), 0.5,
                                      self.name, "email", placeholder="[EMAIL]"))  # fmt: skip
        out += self._names_in(doc)
        original = doc.original
        if has_digit:
            for m in _ADDRESS.finditer(original):
                out.append(Signal("pii.address", Span(m.start(), m.end()), 0.7, self.name,
                                  "address", placeholder="[ADDRESS]"))  # fmt: skip
        schools = any(w in original for w in _SCHOOL_WORDS)
        for m in _SCHOOL.finditer(original) if schools else ():
            out.append(Signal("pii.school", Span(m.start(), m.end()), 0.5, self.name, "school",
                              placeholder="[SCHOOL]"))  # fmt: skip
        if "[" in base:
            for m in _PHOTO.finditer(base):
                inner = m.group(0)
                span = doc.base_span(m.start(), m.end())
                if _NO_FACES.search(inner):
                    out.append(Signal("pii.photo_nofaces", span, 0.5, self.name, "photo"))
                elif _PEOPLE.search(inner):
                    score = 0.8 if "face" in inner else 0.6
                    out.append(Signal("pii.photo_faces", span, score, self.name, "photo"))
        return out

    def _numbers(self, doc: Doc) -> list[Signal]:
        out: list[Signal] = []
        # Numbers are read with every script's digits as ASCII ("٠٧٧٠٠..." is a phone number too).
        base = ascii_digits(doc.base)
        phone_spans: list[tuple[int, int]] = []
        for m in _PHONE.finditer(base):
            validation = self._phone(m.group(0))
            if validation:
                if base is not doc.base and not doc.base[m.start() : m.end()].isascii():
                    validation = "other_script_digits"
                phone_spans.append((m.start(), m.end()))
                out.append(Signal("pii.phone", doc.base_span(m.start(), m.end()), 0.7, self.name,
                                  "uk_phone", placeholder="[PHONE]", validation=validation))  # fmt: skip
        if "o" in base:
            for m in _PHONE_LETTER_O.finditer(base):
                if "o" not in m.group(0) or any(s < m.end() and m.start() < e for s, e in phone_spans):
                    continue
                if self._phone(m.group(0).replace("o", "0")):
                    phone_spans.append((m.start(), m.end()))
                    out.append(Signal("pii.phone", doc.base_span(m.start(), m.end()), 0.7, self.name,
                                      "uk_phone", placeholder="[PHONE]", validation="letter_o_for_zero"))  # fmt: skip
        for m in _NI.finditer(base):
            prefix = m.group(0)[:2]
            if ni_number_ok(prefix) and (m.group(3) or m.group(2)):
                out.append(Signal("pii.ni_number", doc.base_span(m.start(), m.end()), 0.9, self.name,
                                  "uk_ni_number", placeholder="[NI_NUMBER]", validation="ni_prefix_ok"))  # fmt: skip
        nhs_context = "nhs" in doc.text
        for m in _NHS.finditer(base):
            if any(s <= m.start() < e for s, e in phone_spans):
                continue
            digits = re.sub(r"\D", "", m.group(0))
            if digits in self._public_digits or not nhs_checksum_ok(digits):
                continue
            spaced = len(m.group(0)) == 12
            if nhs_context or (spaced and digits[0] != "0"):
                out.append(Signal("pii.nhs", doc.base_span(m.start(), m.end()),
                                  0.9 if nhs_context else 0.7, self.name, "nhs_number",
                                  placeholder="[NHS_NUMBER]", validation="nhs_mod11_ok"))  # fmt: skip
        dob_near = [h.end for h in doc.get("dob_terms")]
        hint = _POSTCODE_HINT.search(base)
        for m in _POSTCODE.finditer(base, max(0, hint.start() - 2)) if hint else ():
            out.append(Signal("pii.postcode", doc.base_span(m.start(), m.end()), 0.6, self.name,
                              "uk_postcode", placeholder="[POSTCODE]"))  # fmt: skip
        for m in _DATE.finditer(base):
            span = doc.base_span(m.start(), m.end())
            if any(0 <= span.start - doc.span(e - 1, e).end <= 20 for e in dob_near):
                out.append(Signal("pii.dob", span, 0.8, self.name, "date_of_birth",
                                  placeholder="[DATE]"))  # fmt: skip
            else:
                out.append(Signal("pii.date", span, 0.2, self.name, "date"))
        return out

    def _phone(self, written: str) -> str | None:
        """Return why ``written`` (ASCII digits) is a UK phone number to hide, or None."""
        digits = re.sub(r"\D", "", written)
        if digits.startswith("44"):
            digits = "0" + digits[2:].lstrip("0")
        if digits in self._public_digits:
            return None
        return _phone_validation(digits)

    def _names_in(self, doc: Doc) -> list[Signal]:
        out: list[Signal] = []
        original = doc.original[:100000]
        seen: set[int] = set()
        # Cheap substring gates skip patterns that cannot match: both age patterns need a digit,
        # the family pattern "'s ", the titled pattern a title.
        first_digit = _DIGIT.search(original)
        has_digit = doc.has_digit or first_digit is not None
        for m in _NAME_AGE.finditer(original) if has_digit else ():
            age = next(int(g) for g in m.groups()[1:] if g)
            if age <= 25 and normalize_text(m.group(1)) not in self._not_names:
                seen.add(m.start())
                out.append(Signal("pii.name_age", Span(m.start(), m.end(1)), 0.8, self.name,
                                  "name_with_age", _name_key(m.group(1)), "[NAME]"))  # fmt: skip
        for m in _NAME_FAMILY.finditer(original) if "'s " in original else ():
            if normalize_text(m.group(1)) not in self._not_names:
                seen.add(m.start())
                out.append(Signal("pii.name_family", Span(m.start(), m.end(1)), 0.75, self.name,
                                  "name_with_family", _name_key(m.group(1)), "[NAME]"))  # fmt: skip
        titled = any(t in original for t in _TITLES)
        for m in _TITLED.finditer(original) if titled else ():
            seen.add(m.start())
            out.append(Signal("pii.name", Span(m.start(), m.end()), 0.6, self.name, "titled_name",
                              placeholder="[NAME]"))  # fmt: skip
        age_first = _AGE_FIRST.finditer(original, max(0, first_digit.start() - _AGE_FIRST_REACH)) if first_digit else ()
        for m in age_first:
            if m.group(1):
                age, start, end = int(m.group(1)), m.start(2), m.end(2)
            else:
                age, start, end = int(m.group(4)), m.start(3), m.end(3)
            if age <= 25 and normalize_text(original[start:end]) not in self._not_names:
                seen.add(start)
                out.append(Signal("pii.name_age", Span(start, end), 0.8, self.name,
                                  "name_with_age", _name_key(original[start:end]), "[NAME]"))  # fmt: skip
        if not self._names:
            return out
        # The lookup keys of every capitalised word at once (lower-cased, one "'s" dropped), so
        # posts naming nobody on the list skip the per-word loop.
        keys = (" ".join(_CAP_WORD.findall(original)).lower() + " ").replace("'s ", " ").split()
        if self._names.isdisjoint(keys):
            return out
        for m in _CAP_WORD.finditer(original):
            if m.start() in seen:
                continue
            word = m.group(0)
            if not (word[1:].islower() or (word.isupper() and len(word) >= 3)):
                continue
            key = word.lower().removesuffix("'s")
            if key in self._names:
                end = m.start() + len(key)
                out.append(Signal("pii.name", Span(m.start(), end), 0.5, self.name,
                                  "first_name", _name_key(key), "[NAME]"))  # fmt: skip
                diminutive = _DIMINUTIVE.search(original, max(0, m.start() - 12), m.start())
                if diminutive is not None:  # "little Ruby", "wee Callum": a child, by the words used
                    # "my little Alfie" is the author's own child, which they may talk about.
                    kind = "pii.own_child" if diminutive.group(1) else "pii.child_word"
                    out.append(Signal(kind, Span(diminutive.start(), diminutive.end(2)), 0.3,
                                      self.name, "diminutive_name"))  # fmt: skip
        return out


#: A diminutive right before a first name ("little Ruby", "lil Jay", "wee Callum") marks a child.
_DIMINUTIVE = re.compile(r"\b(?:(my|our)\s+)?(little|lil|wee)\s+$", re.IGNORECASE)


# Capitalised words that the name-with-age pattern would otherwise take for a name.
_NOT_NAMES = frozenset(
    "project centre center charity office "  # the workplace, never a child (plus the pack's own name)
    "year years aged age level stage step room group class team week day days page part episode "
    "chapter number no season series size grade key top under over the and jan feb mar apr may "
    "jun jul aug sep sept oct nov dec".split()
)


# What goes with a redacted name: the surname(s) after it and an age written next to it
# ("Oliver Twistleton (age 7)", "Maisie Quenby, 6", "Sam aged 9"), or an age before it ("7-year-old Sam").
_SURNAME = re.compile(r"[ \t]+((?:Mc|Mac|O'|O’)?[A-Z][a-z'’\-]{1,25})")
_AGE_AFTER = re.compile(
    r"\s?\(\s?(?:aged? )?\d{1,2}\s?(?:yrs?|years?(?: old)?|y/?o)?\s?\)"
    r"|,? aged? \d{1,2}\b(?: ?(?:yrs?|years? old|y/?o))?"
    r"|, ?\d{1,2}(?: ?(?:yrs?|years? old|y/?o))?(?![\d:.,]?\d)"
    r"(?! ?(?:years?|yrs?|months?|weeks?|days?|hours?|hrs?|mins?|minutes?|am|pm)\b)"
)
_AGE_BEFORE = re.compile(r"\b\d{1,2}[- ](?:year|yr)s?[- ]old[ \t]+$")
_FORENAME = re.compile(r"(?<![\w'’])((?:Mc|Mac|O'|O’)?[A-Z][a-z'’\-]{1,25})[ \t]+$")


def name_extent(text: str, start: int, end: int) -> tuple[int, int]:
    """Return the span to redact for a name at ``[start, end)``: with its surnames and an adjacent age.

    A redacted first name must not leave "Little [NAME] Quenby" or "[NAME] (age 7)" behind, nor a
    surname the name-with-age pattern found leave its first name ("Oliver [NAME]").

    Args:
        text: The original post.
        start: Start of the detected name.
        end: End of the detected name.

    Returns:
        The widened ``(start, end)``.

    """
    for _ in range(2):  # a first name and up to two more names ("Anna Maria Quenby")
        m = _SURNAME.match(text, end)
        if m is None or normalize_text(m.group(1)) in _NOT_NAMES:
            break
        end = m.end()
    age = _AGE_AFTER.match(text, end)
    if age is not None:
        end = age.end()
    forename = _FORENAME.search(text, max(0, start - 30), start)
    if forename is not None and normalize_text(forename.group(1)) not in _NOT_NAMES:
        start = forename.start()  # "Oliver Twistleton (7)": the age pattern found the surname
    before = _AGE_BEFORE.search(text, max(0, start - 16), start)
    if before is not None:
        start = before.start()
    return start, end


def _name_key(name: str) -> str:
    """Return a short stable key for a name, so rules can compare names without holding them."""
    return "name:" + hashlib.sha256(name.lower().encode("utf-8", "surrogatepass")).hexdigest()[:10]


def _phone_validation(digits: str) -> str | None:
    """Return why ``digits`` is a possible UK phone number, or None if it is not one."""
    if not digits.startswith("0") or len(digits) not in (10, 11):
        return None
    if digits.startswith(
        (
            "07700900",
            "01632960",
            "02079460",
            "01134960",
            "01144960",
            "01164960",
            "01174960",
            "01184960",
            "01214960",
            "01314960",
            "01414960",
            "01514960",
            "01614960",
            "02890180",
            "02920180",
            "03069990",
            "08081570",
            "09098790",
        )
    ):
        return "ofcom_drama_range"
    try:
        number = phonenumbers.parse(digits, "GB")
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.is_valid_number(number):
        return "valid_uk"
    if phonenumbers.is_possible_number(number):
        return "possible_uk"
    return None

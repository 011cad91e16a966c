"""The draft legal letter "detailing <organisation> concerns", in Markdown or plain text.

Built only from what HR recorded (subject reference, incidents, evidence) and the policy's own
clauses; nothing is invented about the person. A manager edits and signs the draft.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from app.escalation.wording import PolicyText


@dataclass(frozen=True)
class LetterIncident:
    """One incident as it appears in the letter."""

    posted_at: dt.datetime
    platform: str
    url: str | None
    summary: str
    evidence: str | None


@dataclass(frozen=True)
class LetterInput:
    """What the letter is built from."""

    subject_id: str
    subject_role: str
    stage: str
    spoken_to_at: dt.datetime | None
    incidents: Sequence[LetterIncident]
    rule_ids: Sequence[str]
    evidence_visible: bool
    today: dt.date


def _date(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%d %B %Y")


def _sections(data: LetterInput, text: PolicyText) -> list[tuple[str, list[str]]]:
    org = text.organisation
    # Every incident is a derogatory post: the clause the pack's ladder rests on comes first.
    base = text.incident_rule
    rules = [base] + sorted({r for r in data.rule_ids if r != base and r in text.clauses})
    intro = [
        f"Subject reference (as recorded by HR): {data.subject_id} ({data.subject_role.replace('_', ' ')})",
        f"Date: {data.today.strftime('%d %B %Y')}",
        "",
        f"This letter details {org} concerns about posts and comments published on social media.",
    ]
    if data.spoken_to_at is not None:
        intro.append(
            f"On {_date(data.spoken_to_at)} a representative of {org} spoke with you and asked that "
            "you refrain from such actions. The actions have been repeated."
        )
    incidents: list[str] = []
    for number, incident in enumerate(data.incidents, start=1):
        incidents.append(f"{number}. {_date(incident.posted_at)}, {incident.platform}: {incident.summary}")
        if incident.url:
            incidents.append(f"   Link: {incident.url}")
        if data.evidence_visible and incident.evidence:
            incidents.append(f"   Evidence (as recorded by HR): {incident.evidence}")
    if not data.evidence_visible:
        incidents += ["", "Evidence is held by HR and is not reproduced in this draft."]
    clauses = [f'{rule}: "{text.clauses[rule]}"' for rule in rules]
    consequences = [
        f'"{text.ladder.get("legal_letter", "")}"',
        f'"{text.ladder.get("attendance_denied", "")}"',
    ]
    if data.subject_role in ("staff", "volunteer", "trustee"):
        consequences.append(f'"{text.ladder.get("disciplinary_referral", "")}"')
    channel = [text.ladder.get("resolve", "")]
    return [
        ("", intro),
        ("Incidents", incidents),
        ("Policy clauses concerned", clauses),
        ("What the policy says happens next", consequences),
        ("Raising concerns", channel),
    ]


def render_markdown(data: LetterInput, text: PolicyText) -> str:
    """Return the draft letter as Markdown."""
    lines = [f"# DRAFT: letter detailing {text.organisation} concerns", ""]
    for title, body in _sections(data, text):
        if title:
            lines += [f"## {title}", ""]
        if title == "Policy clauses concerned" or title == "What the policy says happens next":
            lines += [f"> {line}" if line else ">" for line in _interleave(body)]
        else:
            lines += [line if line else "" for line in body]
        lines.append("")
    lines.append("_Draft generated from HR records; review before sending._")
    return "\n".join(lines) + "\n"


def _interleave(body: list[str]) -> list[str]:
    out: list[str] = []
    for line in body:
        if out:
            out.append("")
        out.append(line)
    return out


def render_text(data: LetterInput, text: PolicyText) -> str:
    """Return the draft letter as plain text."""
    heading = f"DRAFT: letter detailing {text.organisation} concerns"
    lines = [heading, "=" * len(heading), ""]
    for title, body in _sections(data, text):
        if title:
            lines += [title.upper(), ""]
        lines += body
        lines.append("")
    lines.append("Draft generated from HR records; review before sending.")
    return "\n".join(lines) + "\n"

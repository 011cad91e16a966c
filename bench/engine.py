"""Engine benchmark: ``python -m bench.engine [--posts N] [--seed S]``.

Prints posts/second on one core and p50/p99 milliseconds per post for the full screener (every
detector, the exact rules and the clause model with its fusion), for the deterministic layer alone,
over synthetic posts of varied length, next to a regex-only floor (one compiled
alternation of 50 keyword patterns over the same posts) measured in the same run, the ratio, the
peak RSS of the process and the engine's import and construction times.

The posts are generated from the templates and vocabulary below (seeded, reproducible); none is
taken from the evaluation data.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import time

OPENERS = [
    "Long day today.",
    "Quick one:",
    "Honestly,",
    "Morning all!",
    "Can't believe this week.",
    "PSA:",
    "Update:",
    "So proud right now.",
    "Rant incoming.",
    "Not sure how I feel about this.",
    "Thread 🧵",
    "Lovely afternoon.",
    "Right, who's ready for the weekend?",
    "Ugh.",
    "Reminder:",
]
BODIES = [
    "We had a brilliant session at {org} with the {group} and everyone joined in.",
    "The {place} at work is getting a makeover and I can't wait to see it.",
    "{name} ({age}) had a wobbly start but ended the day smiling at the centre.",
    "The door code for the {place} is {code}, pass it on to the {group} team.",
    "A few of the parents treat us like unpaid childminders, honestly.",
    "If {org} can afford a new {thing} they can afford to pay staff properly 🤔",
    "Call {name} on {phone} about the {event} this {day}.",
    "The {news} has got the story about {org} completely wrong, it's one-sided nonsense.",
    "Pulled a sickie for the {event}, boss thinks I had a migraine 😂",
    "Saving hard this year: financial independence by forty is the plan.",
    "Watching fireworks for Independence Day with my American in-laws.",
    "My {relative} {name} is {age} today and loves {thing}s!",
    "Password for the {place} laptop is {password} if anyone's locked out.",
    "Absolute shambles at {org} again, nobody answers the phone and my son's {thing} is lost.",
    "Long trustees session tonight; restructure talk, can't share more yet.",
    "Registered for the {event} forum, looking forward to meeting everyone.",
    "Great {event} at the {place}! Raised £{money} for new sensory equipment.",
    "Made a child protection call this afternoon about a family we work with.",
    "Anyone know a good {thing} shop near the town centre?",
    "The {group} were wild today, total savages the lot of them.",
    "Great book on accessible design in public spaces, recommend it.",
    "Email me at {email} if you want to volunteer on {day}s.",
    "@{handle} three emails and still no answer about the bus, shocking service.",
    "The cabinet keys live in the tea tin by the {place} kettle 🤫",
    "I'm a support worker at {org} and I love my job.",
    "J.a.c.k had the best day at I n d e p e n d e n c e P r o j e c t 🎉",
    "Our {group} smashed the sponsored walk, well done all!",
    "Benefit sanctions hurt disabled people most; lobby your councillor.",
]
FILLERS = [
    "The weather was grim but spirits were high.",
    "Tea and biscuits all round.",
    "Traffic on the ring road was a nightmare.",
    "Can't wait for the holidays.",
    "Anyway, back to the washing.",
    "Thanks to everyone who helped out.",
    "More photos to follow later.",
    "That's all from me.",
    "Who else is watching the match?",
    "Still recovering from the weekend.",
    "The dog needs a walk.",
    "What a time to be alive.",
]
VOCAB = {
    "org": [
        "Independence Project",
        "IndependenceProject",
        "Independ3nce Proj3ct",
        "IP",
        "the centre",
        "Indepedence Project",
        "the charity",
    ],
    "group": ["Saturday club", "Friday group", "young people", "volunteers", "kids", "families"],
    "place": ["sensory room", "office", "staff room", "front door", "garden", "minibus"],
    "name": ["Maya", "Leo", "Ruby", "Ollie", "Zara", "Finn", "Ava", "Noah", "Isla", "Sam"],
    "age": [str(a) for a in range(3, 17)],
    "code": ["4 4 7 1", "1903", "2580#", "7⁠3⁠1⁠9", "9914"],
    "thing": ["minibus", "trampoline", "coat", "lunchbox", "wheelchair", "tablet", "logo"],
    "phone": ["07700 900123", "01632 960555", "020 7946 0321", "0113 496 0999", "07880 645273"],
    "event": ["fun run", "quiz night", "summer fair", "Download festival", "bake sale"],
    "day": ["Monday", "Tuesday", "Friday", "Saturday"],
    "news": ["Echo", "Gazette", "local paper", "Courier"],
    "relative": ["daughter", "son", "grandson", "niece"],
    "password": ["Sunflower!23", "Welcome2024", "Spring#2025", "Rota!2024"],
    "money": ["120", "1,240", "85", "2,000"],
    "email": ["sam.jones@example.org", "volunteer@independenceproject.co.uk", "ava99@gmail.com"],
    "handle": ["IndependenceProj", "LocalEchoNews", "CouncilNews"],
}
EMOJI = ["", "", "", " 😂", " 🙄", " ❤️", " 🎉", " 🤔", " 💪", " 🌈"]

# The floor: one compiled alternation of 50 keyword patterns, the cheapest "screener" there is.
FLOOR_PATTERNS = [
    r"independence\s*project",
    r"password",
    r"door\s*code",
    r"keypad",
    r"alarm",
    r"wifi",
    r"api[_ ]?key",
    r"secret",
    r"token",
    r"login",
    r"\b07\d{3}\s?\d{6}\b",
    r"\b0\d{2,4}\s?\d{3,4}\s?\d{3,4}\b",
    r"[\w.+-]+@[\w-]+\.[\w.]+",
    r"\b\d{3}\s?\d{3}\s?\d{4}\b",
    r"\b[a-z]{1,2}\d[a-z\d]?\s*\d[a-z]{2}\b",
    r"safeguarding",
    r"social services",
    r"disciplinary",
    r"suspended",
    r"redundan",
    r"restructur",
    r"merger",
    r"board meeting",
    r"complain",
    r"shambles",
    r"disgrace",
    r"not good enough",
    r"nightmare",
    r"useless",
    r"lazy",
    r"idiot",
    r"feral",
    r"retard",
    r"spastic",
    r"invaders",
    r"sickie",
    r"hungover",
    r"nobody noticed",
    r"article",
    r"one-sided",
    r"\bthe centre\b",
    r"\bi\.?p\.?\b",
    r"seizure",
    r"autis",
    r"epilep",
    r"hospital",
    r"\(\d{1,2}\)",
    r"\bdob\b",
    r"my manager",
    r"colleague",
]


def make_posts(n: int, seed: int) -> list[str]:
    """Generate ``n`` synthetic posts of varied length (tens to ~1,500 characters)."""
    rng = random.Random(seed)

    def fill(template: str) -> str:
        return re.sub(r"\{(\w+)\}", lambda m: rng.choice(VOCAB[m.group(1)]), template)

    posts = []
    for _ in range(n):
        shape = rng.random()
        parts = []
        if rng.random() < 0.5:
            parts.append(rng.choice(OPENERS))
        parts.append(fill(rng.choice(BODIES)))
        if shape > 0.6:  # medium posts: a few more sentences
            parts += [fill(rng.choice(BODIES)) for _ in range(rng.randint(1, 3))]
            parts += rng.sample(FILLERS, rng.randint(1, 3))
        if shape > 0.95:  # long posts: blogs and show notes
            parts += [fill(rng.choice(BODIES)) for _ in range(rng.randint(6, 12))]
            parts += rng.sample(FILLERS, 6)
        text = " ".join(parts) + rng.choice(EMOJI)
        posts.append(text[:1500])
    return posts


def pin_one_core() -> str:
    """Pin the process to one CPU so the figure is per core; return a description."""
    try:
        cpu = sorted(os.sched_getaffinity(0))[0]
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    except (AttributeError, OSError):
        return "not pinned (sched_setaffinity unavailable)"


def import_time() -> tuple[float, float]:
    """Measure, in a fresh interpreter, the engine's import time and the Screener build time (s)."""
    code = (
        "import time; t=time.perf_counter(); import app.screening.engine as e; "
        "t1=time.perf_counter(); from app.policy.pack import load_pack; "
        "s=e.build_screener(load_pack()); t2=time.perf_counter(); print(t1-t, t2-t1)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    imp, build = out.stdout.split()
    return float(imp), float(build)


def percentile(values: list[float], q: float) -> float:
    """Return the q-quantile (0..1) of ``values`` by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engine", description=__doc__)
    parser.add_argument("--posts", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--protected", type=int, default=50, help="protected terms registered")
    args = parser.parse_args(argv)

    pinned = pin_one_core()
    imp, build = import_time()

    from app.policy.pack import load_pack
    from app.screening.engine import Screener, build_screener
    from app.screening.protected import ProtectedTermMatcher, term_digest, term_words
    from app.screening.types import AuthorRole, ScreenContext

    key = b"bench-secret-key"
    # As HR registers them: some children by first name alone, some by full name.
    names = [f"Child{i}" if i % 2 else f"Child{i} Surname{i}" for i in range(args.protected)]
    sizes = {term_words(n) for n in names}
    matcher = ProtectedTermMatcher(((term_digest(n, key), "child_name") for n in names), key, sizes=sizes)
    pack = load_pack()
    screener = build_screener(pack).with_protected(matcher)
    detectors_only = Screener(pack).with_protected(matcher)
    posts = make_posts(args.posts, args.seed)
    roles = ["staff", "volunteer", "trustee", "family_member", "service_user", "unknown"]
    contexts = [ScreenContext(author_role=AuthorRole(roles[i % len(roles)])) for i in range(len(posts))]
    lengths = [len(p) for p in posts]

    def run(s: Screener) -> tuple[float, list[float]]:
        for p, c in zip(posts[:200], contexts[:200], strict=True):  # warm-up
            s.screen(p, c)
        gc.collect()
        timings = []
        start = time.perf_counter()
        for p, c in zip(posts, contexts, strict=True):
            t0 = time.perf_counter_ns()
            s.screen(p, c)
            timings.append((time.perf_counter_ns() - t0) / 1e6)
        return time.perf_counter() - start, timings

    engine_s, timings = run(screener)
    det_s, det_timings = run(detectors_only)

    floor = re.compile("|".join(f"(?:{p})" for p in FLOOR_PATTERNS), re.IGNORECASE)
    floor_timings = []
    start = time.perf_counter()
    for p in posts:
        t0 = time.perf_counter_ns()
        floor.findall(p)
        floor_timings.append((time.perf_counter_ns() - t0) / 1e6)
    floor_s = time.perf_counter() - start

    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    engine_rate = len(posts) / engine_s
    floor_rate = len(posts) / floor_s
    print(
        f"posts: {len(posts)} (length min {min(lengths)}, median {statistics.median(lengths):.0f}, "
        f"max {max(lengths)} chars), {pinned}, {args.protected} protected terms registered"
    )
    print(
        f"engine:      {engine_rate:10,.0f} posts/s   p50 {percentile(timings, 0.5):.3f} ms   "
        f"p99 {percentile(timings, 0.99):.3f} ms   max {max(timings):.3f} ms"
    )
    print(
        f"detectors:   {len(posts) / det_s:10,.0f} posts/s   p50 {percentile(det_timings, 0.5):.3f} ms   "
        f"p99 {percentile(det_timings, 0.99):.3f} ms   (the deterministic layer alone, no clause model)"
    )
    print(
        f"regex floor: {floor_rate:10,.0f} posts/s   p50 {percentile(floor_timings, 0.5):.3f} ms   "
        f"p99 {percentile(floor_timings, 0.99):.3f} ms   ({len(FLOOR_PATTERNS)}-pattern alternation)"
    )
    print(f"ratio engine/floor: {engine_rate / floor_rate:.2f}x the floor's throughput")
    print(f"peak RSS: {rss_mb:.1f} MB")
    print(f"engine import: {imp * 1000:.0f} ms; Screener build (pack load + compile): {build * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What an import did: per kind, counts of imported / updated / unchanged / skipped rows,
skip reasons with a few example source ids, and free-form notes."""

from collections import Counter, defaultdict
from dataclasses import dataclass, field

OUTCOMES = ("imported", "updated", "unchanged", "skipped")
EXAMPLES = 5


@dataclass
class Report:
    dry_run: bool = False
    counts: dict = field(default_factory=lambda: defaultdict(Counter))
    reasons: dict = field(default_factory=lambda: defaultdict(Counter))
    examples: dict = field(default_factory=lambda: defaultdict(list))
    notes: list = field(default_factory=list)

    def add(self, kind: str, outcome: str, source_id=None, reason: str = "") -> None:
        if outcome not in OUTCOMES:
            raise ValueError(outcome)
        self.counts[kind][outcome] += 1
        if reason:
            self.reasons[kind][reason] += 1
            examples = self.examples[(kind, reason)]
            if source_id is not None and len(examples) < EXAMPLES:
                examples.append(str(source_id))

    def note(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)

    def count(self, kind: str, outcome: str) -> int:
        return self.counts[kind][outcome]

    def changed_anything(self) -> bool:
        return any(c["imported"] or c["updated"] for c in self.counts.values())

    def lines(self) -> list[str]:
        """The report as text lines for the terminal."""
        out = ["DRY RUN: nothing was saved." if self.dry_run else "Import finished."]
        for kind, counts in self.counts.items():
            summary = ", ".join(f"{counts[o]} {o}" for o in OUTCOMES if counts[o])
            out.append(f"{kind}: {summary}")
            for reason, n in self.reasons[kind].most_common():
                ids = ", ".join(self.examples[(kind, reason)])
                out.append(f"  - {n} × {reason}" + (f" (e.g. id {ids})" if ids else ""))
        out.extend(f"note: {n}" for n in self.notes)
        return out

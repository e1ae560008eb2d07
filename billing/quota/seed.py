"""Reading a balance from the database to seed the live counters, exactly.

The live balance of a token or user is always `database value + deltas not yet applied`.
Deltas not yet applied sit in the live hash and in batches a flush has taken but maybe
not committed. To know which of those batches the database value already contains, the
value and the applied flags of the batches are read in ONE statement (one snapshot), and
the backend installs the seed only if no batch was taken or finished meanwhile (its
generation counter did not move). See billing/quota/__init__.py for the retry loop.
"""

from dataclasses import dataclass

from django.db.models import Exists

from . import rows

TOKEN = "t"
USER = "u"
# The pending counter that moves each balance.
BALANCE_FIELD = {TOKEN: rows.TOKEN_REMAIN, USER: rows.USER_QUOTA}


@dataclass(frozen=True, slots=True)
class Seed:
    kind: str  # TOKEN or USER
    entity_id: int
    db_value: int | None  # None: the row does not exist (balance 0)
    unapplied: tuple[str, ...]  # batches whose deltas the db value does NOT contain


def read_seeds(keys: list[tuple[str, int]], batch_ids: list[str]) -> list[Seed]:
    """One statement per key: the balance column plus, for each in-flight batch, whether
    its FlushBatch row exists in the same snapshot."""
    from billing.models import FlushBatch, Token, User

    seeds = []
    for kind, entity_id in keys:
        model, column = (Token, "remain_quota") if kind == TOKEN else (User, "quota")
        flags = {
            f"applied_{i}": Exists(FlushBatch.objects.filter(pk=batch_id))
            for i, batch_id in enumerate(batch_ids)
        }
        row = model.objects.filter(pk=entity_id).annotate(**flags).values_list(column, *flags)
        found = list(row[:1])
        if not found:
            seeds.append(Seed(kind, entity_id, None, ()))
            continue
        value, *applied = found[0]
        unapplied = tuple(b for b, done in zip(batch_ids, applied, strict=True) if not done)
        seeds.append(Seed(kind, entity_id, int(value), unapplied))
    return seeds

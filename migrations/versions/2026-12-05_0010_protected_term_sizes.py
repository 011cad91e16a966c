"""protected term sizes: protected_term_state.ngram_sizes

The screener hashes a post's n-grams to find registered names and codes; knowing which term
lengths (in words) are registered at all lets it hash only those. The set is kept as one bitmask
for all terms together (bit n-1 for n words), never per term, so it says nothing about any one
name. Terms registered before this revision have no known length: the mask starts NULL ("every
length") when any term exists, and 0 on an empty registry.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 17:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATE = sa.table("protected_term_state", sa.column("id", sa.Integer()), sa.column("ngram_sizes", sa.Integer()))
_TERM = sa.table("protected_term", sa.column("id", sa.Uuid()))


def upgrade() -> None:
    with op.batch_alter_table("protected_term_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ngram_sizes", sa.Integer(), nullable=True))
    connection = op.get_bind()
    registered = connection.execute(sa.select(_TERM.c.id).limit(1)).first() is not None
    connection.execute(sa.update(_STATE).where(_STATE.c.id == 1).values(ngram_sizes=None if registered else 0))


def downgrade() -> None:
    with op.batch_alter_table("protected_term_state", schema=None) as batch_op:
        batch_op.drop_column("ngram_sizes")

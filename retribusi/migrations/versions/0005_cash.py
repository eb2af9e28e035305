"""cash deposits: what the bank received; deposit items are the officer's own cash

Revision ID: 0005_cash
Revises: 0004_payments
Create Date: 2026-12-01 21:10:00

``deposit_verifications`` gains ``received_idr`` (what finance found credited for the slip) and
checks tying its status to the difference. No release ever wrote to the table (deposits arrive
with this revision), so it is rebuilt rather than altered: SQLite cannot add a NOT NULL column
without a default, and a rebuilt table keeps its append-only triggers only if they are re-made.

``deposit_items`` gets a guard: an item is a cash payment taken by the deposit's own officer and
not reversed when it is deposited. Its primary key and unique ``payment_id`` already make every
cash payment deposited at most once.
"""
from alembic import op
import sqlalchemy as sa

from retribusi.dbops import append_only, drop_append_only

# revision identifiers, used by Alembic.
revision = '0005_cash'
down_revision = '0004_payments'
branch_labels = None
depends_on = None


def _verifications_table(with_received: bool) -> None:
    columns = [
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('deposit_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('status', sa.Enum('submitted', 'verified', 'discrepancy', name='deposit_status', native_enum=False, create_constraint=True, length=16), nullable=False),
    ]
    if with_received:
        columns.append(sa.Column('received_idr', sa.BigInteger(), nullable=False))
    columns += [
        sa.Column('collected_idr', sa.BigInteger(), nullable=False),
        sa.Column('difference_idr', sa.BigInteger(), nullable=False),
        sa.Column('verified_by', sa.String(length=120), nullable=False),
        sa.Column('verified_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('note', sa.String(length=300), nullable=True),
    ]
    constraints = [
        sa.ForeignKeyConstraint(['deposit_id'], ['deposits.id'], name=op.f('fk_deposit_verifications_deposit_id_deposits')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_deposit_verifications')),
        sa.UniqueConstraint('deposit_id', name=op.f('uq_deposit_verifications_deposit_id')),
    ]
    if with_received:
        constraints += [
            sa.CheckConstraint('received_idr >= 0', name=op.f('ck_deposit_verifications_received_not_negative')),
            sa.CheckConstraint('difference_idr = received_idr - collected_idr', name=op.f('ck_deposit_verifications_difference')),
            sa.CheckConstraint(
                "(status = 'verified' AND difference_idr = 0) OR (status = 'discrepancy' AND difference_idr <> 0)",
                name=op.f('ck_deposit_verifications_status_matches_difference'),
            ),
        ]
    op.create_table('deposit_verifications', *columns, *constraints)


def _rebuild_verifications(with_received: bool) -> None:
    rows = op.get_bind().execute(sa.text('SELECT count(*) FROM deposit_verifications')).scalar()
    if rows:
        raise RuntimeError(
            'deposit_verifications has rows: this revision rebuilds the table and would lose them'
        )
    drop_append_only(op, 'deposit_verifications')
    op.drop_table('deposit_verifications')
    _verifications_table(with_received)
    append_only(op, 'deposit_verifications')


PG_ITEM_GUARD = """
CREATE OR REPLACE FUNCTION deposit_item_is_officers_cash() RETURNS trigger AS $$
DECLARE
  p payments%ROWTYPE;
  officer bigint;
BEGIN
  SELECT * INTO p FROM payments WHERE id = NEW.payment_id;
  SELECT officer_id INTO officer FROM deposits WHERE id = NEW.deposit_id;
  IF p.channel <> 'cash' OR p.sender <> 'officer:' || officer THEN
    RAISE EXCEPTION 'payment % is not a cash payment taken by officer %', NEW.payment_id, officer
      USING ERRCODE = 'check_violation';
  END IF;
  IF EXISTS (SELECT 1 FROM payment_reversals r WHERE r.payment_id = NEW.payment_id) THEN
    RAISE EXCEPTION 'payment % is reversed and cannot be deposited', NEW.payment_id
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""

SQLITE_ITEM_GUARD = """
CREATE TRIGGER deposit_items_officers_cash BEFORE INSERT ON deposit_items
BEGIN
  SELECT RAISE(ABORT, 'deposit_items: not a cash payment taken by the deposit''s officer')
    WHERE NOT EXISTS (
      SELECT 1 FROM payments p, deposits d
       WHERE p.id = NEW.payment_id AND d.id = NEW.deposit_id
         AND p.channel = 'cash' AND p.sender = 'officer:' || d.officer_id);
  SELECT RAISE(ABORT, 'deposit_items: the payment is reversed and cannot be deposited')
    WHERE EXISTS (SELECT 1 FROM payment_reversals r WHERE r.payment_id = NEW.payment_id);
END
"""


def upgrade():
    _rebuild_verifications(with_received=True)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(PG_ITEM_GUARD)
        op.execute(
            'CREATE TRIGGER deposit_items_officers_cash BEFORE INSERT ON deposit_items '
            'FOR EACH ROW EXECUTE FUNCTION deposit_item_is_officers_cash()'
        )
    else:
        op.execute(SQLITE_ITEM_GUARD)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS deposit_items_officers_cash ON deposit_items')
        op.execute('DROP FUNCTION IF EXISTS deposit_item_is_officers_cash()')
    else:
        op.execute('DROP TRIGGER IF EXISTS deposit_items_officers_cash')
    _rebuild_verifications(with_received=False)

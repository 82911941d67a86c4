"""BatchedWrites (issue 23): a rebuild's statements grouped into executemany runs keep the
outcome of issuing them one by one."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.eventstore import BatchedWrites

meta = sa.MetaData()
rows = sa.Table("rows", meta, sa.Column("k", sa.String, primary_key=True),
                sa.Column("v", sa.Integer, nullable=False))
members = sa.Table("members", meta, sa.Column("fp", sa.String, primary_key=True),
                   sa.Column("k", sa.String, nullable=False))
insert_row, insert_member = rows.insert(), members.insert()
bump = sa.update(rows).where(rows.c.k == sa.bindparam("b_k")).values(v=rows.c.v + 1)
leave = sa.delete(members).where(members.c.k == sa.bindparam("b_k"))


def test_per_table_order_is_kept_and_reads_see_what_was_added() -> None:
    engine = sa.create_engine("sqlite://")
    meta.create_all(engine)
    with Session(engine) as s:
        w = BatchedWrites(s)
        w.add(rows, insert_row, {"k": "a", "v": 1})
        w.add(members, insert_member, [{"fp": "x", "k": "a"}])
        w.add(rows, insert_row, {"k": "b", "v": 1})  # joins the first insert's run
        w.add(rows, bump, [{"b_k": "a"}, {"b_k": "b"}])  # after both inserts
        w.add(members, leave, {"b_k": "a"})
        w.add(members, insert_member, {"fp": "x", "k": "b"})  # same key, after its delete
        w.add(rows, insert_row, [])  # nothing to add
        w.flush()
        assert s.execute(sa.select(rows.c.k, rows.c.v).order_by(rows.c.k)).all() == [
            ("a", 2), ("b", 2)]
        assert s.execute(sa.select(members.c.fp, members.c.k)).all() == [("x", "b")]
        w.add(rows, bump, {"b_k": "a"})
        w.flush()
        w.flush()  # nothing left: a second flush writes nothing again
        assert s.execute(sa.select(rows.c.v).where(rows.c.k == "a")).scalar() == 3

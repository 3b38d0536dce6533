"""A memory of the bearer check (the token valid, its user active, the token not revoked) of at
most a second.

Reading the user and the revocation table on every request cost a database round trip per call.
Instead each process remembers the answer for `ttl` seconds (`CRM_GATEWAY_AUTH_CACHE_SECONDS`,
at most 1), counted from before the query was sent, so a user disabled or a token revoked
anywhere is refused by every replica within that time. In the process that made the change it
takes effect at once: any committed write to the users or the revocations through this process's
sessions empties every cache of the process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import chain
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from crm_chassis.memo import ExpiringMemo
from crm_gateway.users.models import UserAccount

# The tables whose changes can turn an accepted token into a refused one.
WATCHED_TABLES = frozenset({"user_account", "revoked_token"})
_CHANGED = "crm_auth_changed"
_generation = [0]  # bumped after each commit that wrote a watched table

Key = str  # the access token itself
Answer = tuple[UserAccount | None, bool]


class AuthCache:
    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.clock = clock
        self.memo: ExpiringMemo[Key, Answer] = ExpiringMemo(max_entries)
        self._generation = _generation[0]

    def now(self) -> float:
        return self.clock()

    def get(self, key: Key) -> Answer | None:
        if self._generation != _generation[0]:
            self.memo.clear()
            self._generation = _generation[0]
        return self.memo.get(key, self.clock())

    def put(self, key: Key, answer: Answer, fetched_at: float) -> None:
        """Remember `answer`, read by a query sent at `fetched_at`, unless something changed since."""
        if self.ttl <= 0 or self._generation != _generation[0]:
            return
        self.memo.put(key, answer, until=fetched_at + self.ttl, now=self.clock())


def _watched(table: Any) -> bool:
    return getattr(table, "name", None) in WATCHED_TABLES


@event.listens_for(Session, "do_orm_execute")
def _statement(state: ORMExecuteState) -> None:
    if (state.is_insert or state.is_update or state.is_delete) and _watched(getattr(state.statement, "table", None)):
        state.session.info[_CHANGED] = True


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, flush_context: UOWTransaction) -> None:
    for instance in chain(session.new, session.dirty, session.deleted):
        if getattr(instance, "__tablename__", None) in WATCHED_TABLES:
            session.info[_CHANGED] = True
            return


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        _generation[0] += 1


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_CHANGED, None)

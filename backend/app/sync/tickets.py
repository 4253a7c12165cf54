"""Event tickets: how a browser's `EventSource`, which cannot send headers, authenticates.

A ticket is 256 random bits, stored only as its SHA-256 (any instance can redeem it, a leaked
table cannot), valid 60 seconds and once: redeeming deletes it (`DELETE ... RETURNING`), so two
concurrent redemptions cannot both succeed.
"""

import hashlib
import secrets
from datetime import timedelta
from typing import get_args

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts.sessions import Caller, Credential
from app.core.models import utcnow
from app.sync.errors import TicketInvalid
from app.sync.models import EventTicket

TICKET_LIFETIME = timedelta(seconds=60)
# Tickets are URL-safe base64 of 32 bytes: 43 characters.
MAX_TICKET_LENGTH = 64
CREDENTIALS: tuple[Credential, ...] = get_args(Credential)


def _hash(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


async def issue_ticket(*, connection: AsyncConnection, caller: Caller) -> tuple[str, int]:
    """A new ticket for the caller, and its lifetime. It remembers the credential that asked
    (session, personal token, Better Auth token): the stream it opens ends with it."""
    ticket = secrets.token_urlsafe(32)
    values = {
        "token_hash": _hash(ticket),
        "user_id": caller.user_id,
        "session_id": caller.session_id,
        "expires_at": utcnow() + TICKET_LIFETIME,
        "credential": caller.credential,
        "credential_id": caller.credential_id,
        "credential_expires_at": caller.expires_at,
    }
    await connection.execute(insert(EventTicket).values(values))
    return ticket, int(TICKET_LIFETIME.total_seconds())


async def redeem_ticket(*, connection: AsyncConnection, ticket: str) -> Caller:
    """Use up a ticket: whom it was issued to, with the credential that asked for it.
    401 `ticket_invalid` if unknown, used or expired."""
    if not ticket or len(ticket) > MAX_TICKET_LENGTH:
        raise TicketInvalid()
    statement = (
        delete(EventTicket)
        .where(EventTicket.token_hash == _hash(ticket))
        .returning(
            EventTicket.user_id,
            EventTicket.session_id,
            EventTicket.expires_at,
            EventTicket.credential,
            EventTicket.credential_id,
            EventTicket.credential_expires_at,
        )
    )
    row = (await connection.execute(statement)).one_or_none()
    if row is None or row.expires_at <= utcnow():
        raise TicketInvalid()
    credential: Credential = row.credential if row.credential in CREDENTIALS else "access_token"
    return Caller(
        row.user_id, row.session_id, credential, row.credential_id, row.credential_expires_at
    )


EXPIRY_BATCH = 1000


async def delete_expired_tickets(*, connection: AsyncConnection, batch: int = EXPIRY_BATCH) -> int:
    """Delete up to `batch` expired tickets; returns how many (the job repeats while full)."""
    expired = select(EventTicket.token_hash).where(EventTicket.expires_at <= utcnow()).limit(batch)
    statement = delete(EventTicket).where(EventTicket.token_hash.in_(expired))
    return (await connection.execute(statement)).rowcount

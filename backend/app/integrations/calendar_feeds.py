"""Calendar feeds: create, list and revoke them, and find the feed a URL's token names.

A feed's URL carries `cal_` and 256 random bits. Only the token's SHA-256 is stored (as for
personal access tokens, `app.accounts.personal_tokens`): a leaked table cannot be replayed, and
the URL is shown once. Every feed request looks the hash up, so a deleted feed stops answering
at once, on every instance.
"""

import hashlib
import re
import secrets
import uuid
from typing import Any

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts.models import User
from app.core.models import utcnow
from app.core.statements import Statement, fetch_all
from app.integrations.calendar_errors import CalendarFeedNotFound
from app.integrations.calendar_models import CalendarFeed
from app.integrations.calendar_schemas import CalendarFeedCreate
from app.lists.errors import ListNotFound
from app.lists.models import ListMember
from app.lists.visibility import VIEWER, member_list_ids

Record = dict[str, Any]

PREFIX = "cal_"
# What `new_feed_token` makes: anything else is not a token of ours and is not looked up.
TOKEN_FORM = re.compile(r"cal_[A-Za-z0-9_-]{43}")
FEED_PATH = "/api/calendar/{token}.ics"

PUBLIC_COLUMNS = (
    CalendarFeed.id,
    CalendarFeed.name,
    CalendarFeed.list_ids,
    CalendarFeed.include_completed,
    CalendarFeed.created_at,
)


def hash_feed_token(token: str) -> str:
    # Unsalted is fine: the token is 256 random bits, nothing to look up in a table.
    return hashlib.sha256(token.encode()).hexdigest()


def new_feed_token() -> tuple[str, str]:
    """A new token and the hash we store instead of it."""
    token = PREFIX + secrets.token_urlsafe(32)
    return token, hash_feed_token(token)


def feed_urls(*, origin: str, token: str) -> dict[str, str]:
    """The feed's https (or http) URL, and the same as `webcal://` for subscribe links."""
    url = origin + FEED_PATH.format(token=token)
    return {"url": url, "webcal_url": "webcal://" + url.split("://", 1)[1]}


async def check_list_ids(
    *, connection: AsyncConnection, owner_id: uuid.UUID, list_ids: list[uuid.UUID]
) -> None:
    """Every list a feed names must be one the owner can see (the lists' visibility rule: a
    member of it), else 404 `list_not_found`, exactly as an unknown id."""
    wanted = set(list_ids)
    statement = member_list_ids().where(ListMember.list_id.in_(wanted))
    if set(await connection.scalars(statement, {VIEWER: owner_id})) != wanted:
        raise ListNotFound()


async def create_feed(
    *, connection: AsyncConnection, owner_id: uuid.UUID, data: CalendarFeedCreate, origin: str
) -> Record:
    """A new feed of the owner's; the result holds its URLs, shown this once."""
    if data.list_ids is not None:
        await check_list_ids(connection=connection, owner_id=owner_id, list_ids=data.list_ids)
    token, token_hash = new_feed_token()
    list_ids = None if data.list_ids is None else [str(i) for i in dict.fromkeys(data.list_ids)]
    record: Record = {
        "id": uuid.uuid4(),
        "name": data.name,
        "list_ids": list_ids,
        "include_completed": data.include_completed,
        "created_at": utcnow(),
    }
    values = {**record, "user_id": owner_id, "token_hash": token_hash}
    await connection.execute(insert(CalendarFeed).values(values))
    return {**record, **feed_urls(origin=origin, token=token)}


async def list_feeds(*, connection: AsyncConnection, owner_id: uuid.UUID) -> list[Record]:
    """The owner's feeds, newest first (never a URL: only its hash is kept)."""
    statement = (
        select(*PUBLIC_COLUMNS)
        .where(CalendarFeed.user_id == owner_id)
        .order_by(CalendarFeed.created_at.desc(), CalendarFeed.id.desc())
    )
    return [dict(row) for row in (await connection.execute(statement)).mappings()]


async def delete_feed(
    *, connection: AsyncConnection, owner_id: uuid.UUID, feed_id: uuid.UUID
) -> None:
    """Delete one of the owner's feeds: its URL stops working with the next request. Another
    user's feed is simply not found."""
    statement = delete(CalendarFeed).where(
        CalendarFeed.user_id == owner_id, CalendarFeed.id == feed_id
    )
    if (await connection.execute(statement)).rowcount == 0:
        raise CalendarFeedNotFound()


_FEED_BY_HASH = Statement(
    select(*PUBLIC_COLUMNS, CalendarFeed.user_id)
    .join(User, User.id == CalendarFeed.user_id)
    .where(CalendarFeed.token_hash == bindparam("token_hash"))
)


async def feed_for_token(*, connection: AsyncConnection, token: str) -> Record:
    """The feed a URL's token names: 404 `calendar_feed_not_found` for a malformed, unknown or
    deleted one (the same answer, so nothing tells them apart)."""
    if TOKEN_FORM.fullmatch(token) is None:
        raise CalendarFeedNotFound()
    rows = await fetch_all(connection, _FEED_BY_HASH, {"token_hash": hash_feed_token(token)})
    if not rows:
        raise CalendarFeedNotFound()
    return rows[0]


async def time_zones(
    *, connection: AsyncConnection, user_ids: set[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The zone of each user: a task without its own zone follows its creator's."""
    if not user_ids:
        return {}
    statement = select(User.id, User.time_zone).where(User.id.in_(user_ids))
    return {row.id: row.time_zone for row in await connection.execute(statement)}

"""The consume path's round trips to Redis, sent and read without redis-py's per-command machinery.

A handler's writes are queued on a redis-py :class:`~redis.asyncio.client.Pipeline` (``pipe.multi()``, then
``pipe.set(...)``, ``pipe.zadd(...)``, …), which keeps them as argument tuples. ``Pipeline.execute`` then packs
each argument through its encoder, reads every ``QUEUED`` reply through its full response path and runs a
response callback per command: about 14 µs of the client's CPU per command, and the gateway queues some 900
commands per case lifecycle (its read models' counters and indexes). :func:`commit` packs the same tuples into
one buffer and reads the replies straight off the connection (about half of that), with the same outcome: every
write applied in one MULTI/EXEC, :class:`~redis.exceptions.WatchError` when a watched key changed, the first
command error raised. The handler's results are not needed, so no callback runs.

A handler's read WATCHes its key first: :func:`watch_and_read` sends the WATCH and the read in one round trip
(redis-py's pipeline takes two).
"""

from __future__ import annotations

from typing import Any

from redis.asyncio.client import Pipeline
from redis.exceptions import ExecAbortError, ResponseError, WatchError

_MULTI = b"*1\r\n$5\r\nMULTI\r\n"
_EXEC = b"*1\r\n$4\r\nEXEC\r\n"


def _arg(value: Any, encode: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, int) and not isinstance(value, bool):
        return b"%d" % value
    encoded: bytes = encode(value)  # floats, memoryviews; redis-py's own error for anything else
    return encoded


def pack(commands: list[tuple[Any, ...]], encode: Any) -> bytes:
    """``MULTI``, the commands and ``EXEC`` in RESP, as redis-py would send them."""
    return b"".join((_MULTI, _pack(commands, encode), _EXEC))


def _pack(commands: list[tuple[Any, ...]], encode: Any) -> bytes:
    parts: list[bytes] = []
    for command in commands:
        # "SCRIPT LOAD" and the like: words of their own, as redis-py sends them
        args = (*command[0].split(), *command[1:]) if isinstance(command[0], str) and " " in command[0] else command
        encoded = [_arg(arg, encode) for arg in args]
        parts.append(b"*%d\r\n" % len(encoded))
        parts.extend(b"$%d\r\n%s\r\n" % (len(arg), arg) for arg in encoded)
    return b"".join(parts)


async def watch_and_read(pipe: Pipeline, keys: tuple[str, ...], *read: Any) -> Any:
    """``WATCH keys`` and one read command in one round trip, on the pipeline's connection (taken from the pool
    for the first); returns the read's raw reply (``HGETALL``'s through :func:`as_dict`)."""
    if pipe.explicit_transaction:
        raise RuntimeError("WATCH after MULTI")
    connection = pipe.connection
    if connection is None:
        connection = pipe.connection = await pipe.connection_pool.get_connection()
    try:
        await connection.send_packed_command(_pack([("WATCH", *keys), read], connection.encoder.encode))
        await connection.read_response(disable_decoding=True)
        pipe.watching = True
        reply = await connection.read_response(disable_decoding=True)
    except BaseException:
        # A reply may be left unread, or the connection is broken: its WATCH ends with it.
        pipe.watching = False
        await connection.disconnect()
        raise
    return reply


async def commit(pipe: Pipeline) -> None:
    """Execute the commands queued after ``pipe.multi()`` on the connection holding the WATCH; falls back to
    ``pipe.execute()`` when nothing is watched or a command needs redis-py's own handling."""
    connection = pipe.connection
    stack = pipe.command_stack
    # Options other than redis-py's "keys" (a reply to shape, an empty response) are redis-py's to handle.
    if connection is None or not pipe.watching or any(len(options) > ("keys" in options) for _, options in stack):
        await pipe.execute()
        return
    payload = pack([args for args, _ in stack], connection.encoder.encode)
    errors: list[ResponseError] = []
    try:
        await connection.send_packed_command(payload, check_health=False)
        for _ in range(len(stack) + 1):  # MULTI's OK, then a QUEUED (or an error) per command
            try:
                await connection.read_response(disable_decoding=True)
            except ResponseError as error:
                errors.append(error)
        try:
            replies = await connection.read_response(disable_decoding=True)
        except ExecAbortError:
            raise (errors[0] if errors else WatchError("EXECABORT")) from None
    except BaseException:
        # Replies may be left unread on the socket: the connection is not used again as it is.
        await connection.disconnect()
        raise
    finally:
        pipe.command_stack = []
        pipe.watching = False
    if replies is None:
        raise WatchError("Watched variable changed.")
    if errors:
        raise errors[0]
    for reply in replies:
        if isinstance(reply, ResponseError):
            raise reply


def as_dict(reply: Any) -> dict[bytes, bytes]:
    """A raw ``HGETALL`` reply as a dict: a map under RESP3, a flat list of fields and values under RESP2."""
    if isinstance(reply, dict):
        return reply
    flat = list(reply)
    return dict(zip(flat[::2], flat[1::2], strict=True))

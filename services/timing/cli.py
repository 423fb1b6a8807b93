"""``./hall calendar``: the operators' working calendar.

    ./hall calendar load FILE [--example]      load a year (holidays, 调休 make-up days, local holidays)
    ./hall calendar deadline --from T --limit N --unit WD|WH|ND|NH [--hall CODE]
    ./hall calendar elapsed --from A --to B [--hall CODE]
    ./hall calendar years                      which years are known, and where from

A loaded year is kept in Redis (every running timing instance picks it up) and published on
``timing.events`` (so it survives a rebuild), and wins over the ``chinesecalendar`` package. ``deadline``
prints the deadline in ISO 8601 local time as its last line, and fails naming the year the calendar lacks.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from datetime import datetime
from pathlib import Path

from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.timing.calendar import Limit, UnknownYear, WorkingCalendar, YearPlan, Years
from services.timing.halls import load_halls
from services.timing.messages import CalendarLoaded
from services.timing.store import Keys, loaded_years, store_year
from services.timing.yearfile import BadYearFile, read_year_file
from shared import topics
from shared.catalogue import UNITS
from shared.envelope import Actor, encode, wrap
from shared.localtime import LOCAL
from shared.settings import HallSettings, load_settings

WEEKDAYS = "一二三四五六日"


def say(text: str) -> None:
    sys.stdout.write(text + "\n")


def complain(text: str) -> None:
    sys.stderr.write(text + "\n")


class Refusal(Exception):
    """Printed on stderr; the command exits non-zero."""


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Refusal(f"时间格式应为 ISO 8601，如 2026-09-30T10:00：{text!r}") from None
    return moment.replace(tzinfo=LOCAL) if moment.tzinfo is None else moment.astimezone(LOCAL)


def _wall(moment: datetime) -> str:
    local = moment.astimezone(LOCAL)
    return f"{local:%Y-%m-%d %H:%M}（星期{WEEKDAYS[local.weekday()]}）"


async def _loaded(settings: HallSettings) -> list[YearPlan] | None:
    """The years loaded in Redis, or None when Redis cannot be reached."""
    redis = Redis.from_url(settings.redis_url, socket_connect_timeout=2)
    try:
        return await loaded_years(redis, Keys(settings))
    except (RedisError, OSError):
        return None
    finally:
        await redis.aclose()


async def _calendar(settings: HallSettings, hall: str) -> tuple[WorkingCalendar, str]:
    plans = await _loaded(settings)
    if plans is None:
        complain("注意：连不上 Redis，只用 chinesecalendar 包内置的年份（导入的年份未计入）")
    policy = load_halls().policy(hall)
    sessions = "、".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in policy.sessions)
    return WorkingCalendar(policy.sessions, Years(plans or [])), f"{policy.name or policy.code}，办公时间 {sessions}"


async def deadline(settings: HallSettings, args: argparse.Namespace) -> None:
    start, limit = _instant(args.start), Limit(args.limit, args.unit)
    if limit.value < 0:
        raise Refusal("时限不能为负数")
    cal, where = await _calendar(settings, args.hall)
    try:
        moment = cal.deadline(start, limit.value, limit.unit)
    except UnknownYear as unknown:
        raise Refusal(f"无法计算：{unknown}") from None
    say(f"受理时间  {_wall(start)}")
    say(f"时限      {limit}（{where}）")
    say(f"办结期限  {_wall(moment)}")
    say(moment.isoformat())


async def elapsed(settings: HallSettings, args: argparse.Namespace) -> None:
    start, end = _instant(args.start), _instant(args.end)
    cal, where = await _calendar(settings, args.hall)
    try:
        seconds = cal.working_seconds(start, end)
    except UnknownYear as unknown:
        raise Refusal(f"无法计算：{unknown}") from None
    say(f"从 {_wall(start)} 到 {_wall(end)}（{where}）")
    say(f"工作时间 {seconds / 3600:g} 小时，合 {seconds / cal.day_seconds:.2f} 个工作日")


async def load(settings: HallSettings, args: argparse.Namespace) -> None:
    try:
        plan = read_year_file(Path(args.file))
    except BadYearFile as bad:
        raise Refusal(str(bad)) from None
    if plan.example and not args.example:
        raise Refusal(f"{args.file} 标为示例草案（example = true），不是正式通知；确需导入演示请加 --example")
    loaded = CalendarLoaded(
        year=plan.year,
        label=plan.label,
        holidays=plan.holidays,
        local_holidays=plan.local_holidays,
        workdays=plan.workdays,
        example=plan.example,
        source=str(args.file),
    )
    operator = getpass.getuser()
    envelope = wrap(loaded, case_id=f"calendar-{plan.year}", actor=Actor(kind="operator", id=operator, name=operator))
    # Kafka first: the year survives a rebuild of timing's Redis; then Redis, which running instances watch.
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.topic(topics.TIMING_EVENTS),
            encode(envelope),
            key=envelope.case_id.encode(),
            headers=[("content-type", b"application/json")],
        )
    finally:
        await producer.stop()
    redis = Redis.from_url(settings.redis_url)
    try:
        await store_year(redis, Keys(settings), plan)
    finally:
        await redis.aclose()
    note = "（示例草案，非正式通知）" if plan.example and "示例" not in plan.label else ""
    say(
        f"已导入 {plan.year} 年工作日历{note}：{plan.label}；法定节假日 {len(plan.holidays)} 天，"
        f"调休上班 {len(plan.workdays)} 天，本地假日 {len(plan.local_holidays)} 天。该年以导入的为准。"
    )


async def years(settings: HallSettings, _: argparse.Namespace) -> None:
    plans = await _loaded(settings)
    package = [y for y in range(2004, 2100) if Years().knows(y)]
    say(f"chinesecalendar 包内置：{package[0]}–{package[-1]} 年")
    for plan in sorted(plans or [], key=lambda p: p.year):
        say(f"已导入：{plan.year} 年，{plan.label}")
    if plans is None:
        say("（连不上 Redis，看不到导入的年份）")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="./hall calendar", description="工作日历：导入年份、计算时限")
    commands = top.add_subparsers(dest="command", required=True)
    loading = commands.add_parser("load", help="导入一年的工作日历文件（TOML，见 data/calendar/）")
    loading.add_argument("file")
    loading.add_argument("--example", action="store_true", help="允许导入标为示例草案的文件")
    computing = commands.add_parser("deadline", help="计算办结期限（最后一行为 ISO 8601 本地时间）")
    computing.add_argument("--from", dest="start", required=True, help="受理时间，如 2026-09-30T10:00")
    computing.add_argument("--limit", type=float, required=True, help="时限数值，如 1 或 0.5")
    computing.add_argument("--unit", choices=sorted(UNITS), required=True, help="WD/WH/ND/NH")
    computing.add_argument("--hall", default="hall", help="服务场所代码（data/halls.toml），默认 hall")
    measuring = commands.add_parser("elapsed", help="两个时刻之间的工作时间")
    measuring.add_argument("--from", dest="start", required=True)
    measuring.add_argument("--to", dest="end", required=True)
    measuring.add_argument("--hall", default="hall")
    commands.add_parser("years", help="已知的年份")
    return top


COMMANDS = {"load": load, "deadline": deadline, "elapsed": elapsed, "years": years}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        asyncio.run(COMMANDS[args.command](load_settings(), args))
    except Refusal as refusal:
        complain(f"hall calendar: {refusal}")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

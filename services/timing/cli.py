"""``./hall calendar``: the operators' working calendar.

    ./hall calendar load FILE [--example]      load a year (holidays, 调休 make-up days, local holidays)
    ./hall calendar deadline --from T --limit N --unit WD|WH|ND|NH [--hall CODE] [--strict]
    ./hall calendar elapsed --from A --to B [--hall CODE] [--strict]
    ./hall calendar years                      official and provisional years, and where from

A loaded year is kept in Redis (every running timing instance picks it up and revises the clocks that used
its provisional calendar) and published on ``timing.events`` (so it survives a rebuild), and wins over the
``chinesecalendar`` package; loading the same file again changes nothing. ``deadline`` prints the deadline in
ISO 8601 local time as its last line; a year without an official schedule is computed provisionally, with a
line before saying 暂定 and naming the year, unless ``--strict`` refuses it (exit 2, naming the year).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from datetime import datetime
from pathlib import Path

import msgspec
from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.timing.messages import CalendarLoaded
from services.timing.store import Keys, loaded_years, store_year
from services.timing.yearfile import BadYearFile, read_year_file
from shared import topics
from shared.calendar import Limit, UnknownYear, WorkingCalendar, YearPlan, Years, in_package
from shared.catalogue import UNITS
from shared.clock import SYSTEM_CLOCK
from shared.envelope import Actor, encode, wrap
from shared.halls import load_halls
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


async def _calendar(settings: HallSettings, hall: str, *, strict: bool = False) -> tuple[WorkingCalendar, str]:
    plans = await _loaded(settings)
    if plans is None:
        complain("注意：连不上 Redis，只用 chinesecalendar 包内置的年份（导入的年份未计入）")
    policy = load_halls().policy(hall)
    sessions = "、".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in policy.sessions)
    years = Years(plans or [], strict=strict)
    return WorkingCalendar(policy.sessions, years), f"{policy.name or policy.code}，办公时间 {sessions}"


def _provisional(cal: WorkingCalendar, start: datetime, end: datetime) -> None:
    years = cal.years.provisional_between(start.astimezone(LOCAL).date(), end.astimezone(LOCAL).date())
    if years:
        named = "、".join(f"{y} 年" for y in years)
        say(f"暂定：{named}的放假安排尚未公布，按法定节假日推算（不含调休），以国务院公布的放假安排为准")


async def deadline(settings: HallSettings, args: argparse.Namespace) -> None:
    start, limit = _instant(args.start), Limit(args.limit, args.unit)
    if limit.value < 0:
        raise Refusal("时限不能为负数")
    cal, where = await _calendar(settings, args.hall, strict=args.strict)
    try:
        moment = cal.deadline(start, limit.value, limit.unit)
    except UnknownYear as unknown:
        raise Refusal(f"无法计算：{unknown}") from None
    say(f"受理时间  {_wall(start)}")
    say(f"时限      {limit}（{where}）")
    say(f"办结期限  {_wall(moment)}")
    _provisional(cal, start, moment)
    say(moment.isoformat())


async def elapsed(settings: HallSettings, args: argparse.Namespace) -> None:
    start, end = _instant(args.start), _instant(args.end)
    cal, where = await _calendar(settings, args.hall, strict=args.strict)
    try:
        seconds = cal.working_seconds(start, end)
    except UnknownYear as unknown:
        raise Refusal(f"无法计算：{unknown}") from None
    say(f"从 {_wall(start)} 到 {_wall(end)}（{where}）")
    _provisional(cal, start, end)
    say(f"工作时间 {seconds / 3600:g} 小时，合 {seconds / cal.day_seconds:.2f} 个工作日")


async def load(settings: HallSettings, args: argparse.Namespace) -> None:
    try:
        plan = read_year_file(Path(args.file))
    except BadYearFile as bad:
        raise Refusal(str(bad)) from None
    if plan.example and not args.example:
        raise Refusal(f"{args.file} 标为示例草案（example = true），不是正式通知；确需导入演示请加 --example")
    plan = msgspec.structs.replace(plan, source=str(args.file))
    before = {p.year: p for p in await _loaded(settings) or []}.get(plan.year)
    if before is not None and _same_days(before, plan):
        say(f"{plan.year} 年工作日历与已导入的相同（{before.label}），未作改动。")
        return
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
        f"调休上班 {len(plan.workdays)} 天，本地假日 {len(plan.local_holidays)} 天。该年以导入的为准；"
        "运行中的计时服务在 1 秒内据此更正用过暂定日历的期限。"
    )


def _same_days(a: YearPlan, b: YearPlan) -> bool:
    return (a.holidays, a.local_holidays, a.workdays, a.example) == (
        b.holidays,
        b.local_holidays,
        b.workdays,
        b.example,
    )


async def years(settings: HallSettings, _: argparse.Namespace) -> None:
    plans = await _loaded(settings)
    known = Years(plans or [])
    package = sorted(y for y in range(1990, 2200) if in_package(y))
    say(f"正式：chinesecalendar 包内置 {package[0]}–{package[-1]} 年")
    for plan in sorted(plans or [], key=lambda p: p.year):
        say(f"正式：{plan.year} 年，已导入：{known.source(plan.year)}")
    if plans is None:
        say("（连不上 Redis，看不到导入的年份）")
    this_year = SYSTEM_CLOCK.now().astimezone(LOCAL).year
    last = max([package[-1], *(p.year for p in plans or [])])
    for year in range(last + 1, max(last, this_year + 2) + 1):
        if not known.official(year):
            say(f"暂定：{year} 年（放假安排尚未公布，按《全国年节及纪念日放假办法》推算，不含调休）")


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
    computing.add_argument("--strict", action="store_true", help="不用暂定日历：遇到放假安排尚未公布的年份即拒绝")
    measuring = commands.add_parser("elapsed", help="两个时刻之间的工作时间")
    measuring.add_argument("--from", dest="start", required=True)
    measuring.add_argument("--to", dest="end", required=True)
    measuring.add_argument("--hall", default="hall")
    measuring.add_argument("--strict", action="store_true", help="不用暂定日历")
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

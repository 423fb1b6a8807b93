"""``./hall users list|add|passwd|disable|enable``: the users' file without hand-edited hashes.

The file is ``HALL_USERS_FILE`` when set, else ``data/users.toml``. Passwords are asked with getpass (twice), or
read from standard input with ``--password-stdin``; they are stored as PBKDF2-SHA256 hashes. A running gateway
re-reads the file when it changes: a disabled user cannot sign in and their tokens are refused at once.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

import msgspec

from services.gateway.users import DEMO_PASSWORD, ROLE_NAMES, User, hash_password, load_users, save_users, users_path
from shared.settings import load_settings

MIN_PASSWORD = 10


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("新口令: ")
        if getpass.getpass("再输一次: ") != password:
            raise SystemExit("hall users: 两次输入的口令不一致")
    if len(password) < MIN_PASSWORD:
        raise SystemExit(f"hall users: 口令至少 {MIN_PASSWORD} 个字符")
    if password == DEMO_PASSWORD:
        raise SystemExit("hall users: 不能使用演示口令")
    return password


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hall users")
    parser.add_argument("--file", type=Path, default=None, help="the users' file (default HALL_USERS_FILE)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list")
    add = sub.add_parser("add")
    add.add_argument("user_id")
    add.add_argument("--name", required=True)
    add.add_argument("--role", required=True, choices=sorted(ROLE_NAMES))
    add.add_argument("--department", required=True)
    add.add_argument("--point", default="hall")
    passwd = sub.add_parser("passwd")
    passwd.add_argument("user_id")
    for parser_ in (add, passwd):
        parser_.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    for name in ("disable", "enable"):
        sub.add_parser(name).add_argument("user_id")
    args = parser.parse_args(argv)
    path: Path = args.file or users_path(load_settings())
    users = load_users(path)
    by_id = {u.id: u for u in users}
    if args.command == "list":
        for u in users:
            state = "停用" if u.disabled else "启用"
            print(f"{u.id:<16} {u.name:<8} {u.role:<10} {state}  {u.department}")  # noqa: T201
        return 0
    if args.command == "add":
        if args.user_id in by_id:
            raise SystemExit(f"hall users: 用户 {args.user_id} 已存在（改口令用 passwd）")
        user = User(
            id=args.user_id,
            name=args.name,
            role=args.role,
            department=args.department,
            point=args.point,
            password=hash_password(_password(args)),
        )
        save_users(path, [*users, user])
        print(f"hall users: 已添加 {user.id}（{path}）")  # noqa: T201
        return 0
    if args.user_id not in by_id:
        raise SystemExit(f"hall users: 没有用户 {args.user_id}")
    current = by_id[args.user_id]
    if args.command == "passwd":
        changed = msgspec.structs.replace(current, password=hash_password(_password(args)))
    else:
        changed = msgspec.structs.replace(current, disabled=args.command == "disable")
    save_users(path, [changed if u.id == current.id else u for u in users])
    print(f"hall users: {args.command} {current.id}（{path}）")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())

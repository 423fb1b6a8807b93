"""Who is calling: the hall's users from ``data/users.toml``, named by the ``X-Hall-User`` header."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import msgspec
from litestar import Request
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException

from shared.envelope import Actor

Role = Literal["clerk", "staff", "kiosk", "operator"]
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "data" / "users.toml"


class User(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    role: Role
    department: str

    @property
    def actor(self) -> Actor:
        kind: Literal["clerk", "staff", "kiosk", "operator"] = self.role
        return Actor(kind=kind, id=self.id, name=self.name)


class _File(msgspec.Struct):
    users: list[User]


class Directory:
    def __init__(self, path: Path = DEFAULT_PATH) -> None:
        self._users = {u.id: u for u in msgspec.toml.decode(path.read_bytes(), type=_File).users}

    def caller(self, request: Request[Any, Any, Any], *roles: Role) -> User:
        """The calling user, who must hold one of ``roles``; 401/403 with the reason otherwise."""
        user_id = request.headers.get("x-hall-user")
        if not user_id:
            raise NotAuthorizedException("缺少 X-Hall-User 请求头，无法确认操作人身份")
        user = self._users.get(user_id)
        if user is None:
            raise NotAuthorizedException(f"未知用户：{user_id}")
        if roles and user.role not in roles:
            raise PermissionDeniedException(f"用户 {user.name}（{user.role}）无权执行此操作")
        return user

"""Who is calling: the hall's users from ``data/users.toml``, signed in with a password.

A signed-in user carries a token: in the ``hall_session`` cookie for pages, or as ``Authorization: Bearer``
for API clients (kiosks, rating pads, scripts). Tokens are HMAC-signed with ``HALL_SECRET`` and expire.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import msgspec
from litestar import Request
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.response import Redirect

from shared.clock import SYSTEM_CLOCK, Clock
from shared.envelope import Actor

Role = Literal["clerk", "staff", "supervisor", "kiosk", "pad", "operator"]
ROLE_NAMES: dict[str, str] = {
    "clerk": "窗口人员",
    "staff": "审批人员",
    "supervisor": "科室负责人",
    "kiosk": "自助终端",
    "pad": "评价器",
    "operator": "运维人员",
}
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "data" / "users.toml"
COOKIE = "hall_session"
TOKEN_TTL_S = 12 * 3600


class User(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    role: Role
    department: str
    point: str = "hall"
    password: str = ""

    @property
    def actor(self) -> Actor:
        return Actor(kind=self.role, id=self.id, name=self.name)

    @property
    def role_name(self) -> str:
        return ROLE_NAMES[self.role]


class _File(msgspec.Struct):
    users: list[User]


class LoginRequired(Exception):
    """A page was asked for by nobody signed in: the app answers with a redirect to the login page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url

    def redirect(self) -> Redirect:
        return Redirect(f"/login?next={quote(self.next_url)}")


def hash_password(password: str, salt: bytes, iterations: int = 60000) -> str:
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations).hex()
    return f"pbkdf2_sha256${iterations}${salt.hex()}${digest}"


def _password_matches(stored: str, password: str) -> bool:
    try:
        scheme, iterations, salt, _ = stored.split("$")
    except ValueError:
        return False
    if scheme != "pbkdf2_sha256":
        return False
    return hmac.compare_digest(stored, hash_password(password, bytes.fromhex(salt), int(iterations)))


class Directory:
    def __init__(self, secret: str, path: Path = DEFAULT_PATH, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock
        self._users = {u.id: u for u in msgspec.toml.decode(path.read_bytes(), type=_File).users}
        self._key = hashlib.sha256(b"hall-session:" + secret.encode()).digest()

    def get(self, user_id: str) -> User | None:
        return self._users.get(user_id)

    def of(self, role: Role, department: str | None = None) -> list[User]:
        return [u for u in self._users.values() if u.role == role and department in (None, u.department)]

    def sign_in(self, user_id: str, password: str) -> User | None:
        user = self._users.get(user_id)
        return user if user is not None and _password_matches(user.password, password) else None

    def token(self, user: User, now: float | None = None) -> str:
        expires = int((now if now is not None else self.clock.now().timestamp()) + TOKEN_TTL_S)
        body = base64.urlsafe_b64encode(f"{user.id}|{expires}".encode()).decode().rstrip("=")
        return f"{body}.{self._sign(body)}"

    def _sign(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()[:32]

    def _from_token(self, token: str) -> User:
        body, _, signature = token.partition(".")
        if not signature or not hmac.compare_digest(signature, self._sign(body)):
            raise NotAuthorizedException("登录凭证无效，请重新登录")
        user_id, _, expires = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode().partition("|")
        if int(expires) < self.clock.now().timestamp():
            raise NotAuthorizedException("登录已过期，请重新登录")
        user = self._users.get(user_id)
        if user is None:
            raise NotAuthorizedException(f"用户 {user_id} 已停用")
        return user

    def signed_in(self, request: Request[Any, Any, Any]) -> User | None:
        """The user of a valid session cookie or bearer token; None when there is neither."""
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            return self._from_token(header[7:].strip())
        cookie = request.cookies.get(COOKIE)
        return self._from_token(cookie) if cookie else None

    def caller(self, request: Request[Any, Any, Any], *roles: Role) -> User:
        """The calling user, who must hold one of ``roles``; 401/403 with the reason otherwise."""
        user = self.signed_in(request)
        if user is None:
            raise NotAuthorizedException("请先登录（页面登录或 Authorization: Bearer 凭证）")
        return _with_role(user, roles)

    def page_user(self, request: Request[Any, Any, Any], *roles: Role) -> User:
        """The signed-in user of a page; nobody signed in → redirect to the login page."""
        try:
            user = self.signed_in(request)
        except NotAuthorizedException:
            user = None
        if user is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LoginRequired(target)
        return _with_role(user, roles)


def _with_role(user: User, roles: tuple[Role, ...]) -> User:
    if roles and user.role not in roles:
        wanted = "、".join(ROLE_NAMES[r] for r in roles)
        raise PermissionDeniedException(f"{user.name}（{user.role_name}）无权执行此操作，需要：{wanted}")
    return user

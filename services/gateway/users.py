"""Who is calling: the hall's users (``data/users.toml`` or ``HALL_USERS_FILE``), signed in with a password.

A signed-in user carries a session token: in the ``hall_session`` cookie for pages, or as
``Authorization: Bearer`` for API clients (kiosks, rating pads, scripts). A token is a JWT (HS256, Litestar's
``litestar.security.jwt.Token`` claims: ``sub``, ``exp``, ``iat``, ``jti``) signed with a key derived from
``HALL_SECRET`` for sessions only (``shared.secrets.derive_key(..., "session-signing")``); during a rotation the
key of ``HALL_SECRET_PREVIOUS`` still verifies. Every request's token is resolved once, before its handler, by
``Admission`` (``services/gateway/auth/middleware.py``), which also asks Redis whether the token was
logged out (its ``jti`` on the revocation list, kept as long as the token would live) or its user revoked by an
operator (a per-user "not before" stamp); both live in the gateway's key space, so they hold on every gateway
instance at once. Handlers keep asking ``caller``/``page_user``/``signed_in`` synchronously.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import quote

import jwt
import msgspec
from litestar import Request
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.response import Redirect
from litestar.security.jwt import Token
from litestar.security.jwt.token import JWTDecodeOptions
from redis.asyncio import Redis

from shared.clock import SYSTEM_CLOCK, Clock
from shared.envelope import Actor
from shared.secrets import derive_keys
from shared.settings import HallSettings

Role = Literal["clerk", "staff", "supervisor", "hall-supervisor", "kiosk", "pad", "operator"]
ROLE_NAMES: dict[str, str] = {
    "clerk": "窗口人员",
    "staff": "审批人员",
    "supervisor": "科室负责人",
    "hall-supervisor": "政务服务管理机构",
    "kiosk": "自助终端",
    "pad": "评价器",
    "operator": "运维人员",
}
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "data" / "users.toml"
COOKIE = "hall_session"
TOKEN_TTL_S = 12 * 3600
ALGORITHM = "HS256"
SESSION_LABEL = "session-signing"
PBKDF2_ITERATIONS = 60000
DEMO_PASSWORD = "hall2026"  # noqa: S105 (the published demo password, refused outside demo mode)
# Where a resolved session is kept on the request (``request.state``) by the middleware.
STATE_KEY = "hall_session_outcome"
# Tokens whose signature this process has checked, kept so a session's next requests skip the HMAC and the JSON
# (expiry, user and revocation are still checked on every request); the oldest goes first past this many.
VERIFIED_KEPT = 4096


class User(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    id: str
    name: str
    role: Role
    department: str
    point: str = "hall"
    password: str = ""
    disabled: bool = False

    @property
    def actor(self) -> Actor:
        return Actor(kind=self.role, id=self.id, name=self.name)

    @property
    def role_name(self) -> str:
        return ROLE_NAMES[self.role]


class UsersFile(msgspec.Struct):
    users: list[User]


class LoginRequired(Exception):
    """A page was asked for by nobody signed in: the app answers with a redirect to the login page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url

    def redirect(self) -> Redirect:
        return Redirect(f"/login?next={quote(self.next_url)}")


class DemoUsersError(RuntimeError):
    """Production mode (``HALL_DEMO=0``) with users still holding the published demo password."""


def hash_password(password: str, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS) -> str:
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations).hex()
    return f"pbkdf2_sha256${iterations}${salt.hex()}${digest}"


def password_matches(stored: str, password: str) -> bool:
    try:
        scheme, iterations, salt, _ = stored.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        return hmac.compare_digest(stored, hash_password(password, bytes.fromhex(salt), int(iterations)))
    except ValueError:
        return False


# Unknown or disabled users are checked against this hash, so they cost the same PBKDF2 work as a real one.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def load_users(path: Path) -> list[User]:
    return msgspec.toml.decode(path.read_bytes(), type=UsersFile).users


def save_users(path: Path, users: list[User]) -> None:
    """Writes the users' file atomically (owner-only: it holds password hashes)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(_toml(users))
    tmp.replace(path)


def _toml(users: list[User]) -> str:
    """The users' file as TOML (strings and flags only; JSON string escapes are valid TOML basic strings)."""
    lines = ["# 大厅用户（由 ./hall users 维护；password 为 PBKDF2-SHA256 摘要，勿手工编辑）。", ""]
    for user in users:
        lines.append("[[users]]")
        for field, value in msgspec.structs.asdict(user).items():
            if isinstance(value, bool):
                if value:
                    lines.append(f"{field} = true")
            else:
                lines.append(f"{field} = {json.dumps(value, ensure_ascii=False)}")
        lines.append("")
    return "\n".join(lines)


def users_path(settings: HallSettings) -> Path:
    return Path(settings.users_file) if settings.users_file else DEFAULT_PATH


class Session(msgspec.Struct, frozen=True):
    """A verified token: whose, its id and when it was issued and ends (epoch seconds / milliseconds)."""

    user: User
    jti: str
    issued_ms: int
    expires: int


class Directory:
    def __init__(
        self,
        secret: str,
        path: Path = DEFAULT_PATH,
        clock: Clock = SYSTEM_CLOCK,
        *,
        previous: str = "",
        settings: HallSettings | None = None,
        redis: Callable[[], Redis] | None = None,
    ) -> None:
        self.clock = clock
        self.path = path
        self._keys = [key.hex() for key in derive_keys(secret, SESSION_LABEL, previous)]
        self._verified: dict[str, dict[str, Any]] = {}
        self._settings = settings
        self._redis = redis
        self._stamp: tuple[int, int] | None = None
        self._users: dict[str, User] = {}
        self._reload()

    @classmethod
    def for_gateway(
        cls, settings: HallSettings, redis: Callable[[], Redis] | None = None, clock: Clock = SYSTEM_CLOCK
    ) -> Directory:
        return cls(
            settings.secret,
            users_path(settings),
            clock,
            previous=settings.secret_previous,
            settings=settings,
            redis=redis,
        )

    # ------------------------------------------------------------------ users

    def _reload(self) -> None:
        """(Re)reads the users' file when it changed: ``./hall users disable`` takes effect without a restart."""
        try:
            stat = self.path.stat()
        except OSError:
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            self._users = {u.id: u for u in load_users(self.path)}
            self._stamp = stamp

    def get(self, user_id: str) -> User | None:
        self._reload()
        return self._users.get(user_id)

    def of(self, role: Role, department: str | None = None) -> list[User]:
        self._reload()
        return [
            u for u in self._users.values() if u.role == role and department in (None, u.department) and not u.disabled
        ]

    def sign_in(self, user_id: str, password: str) -> User | None:
        """The user whose password this is; unknown and disabled users cost the same PBKDF2 work and fail."""
        user = self.get(user_id)
        usable = user is not None and not user.disabled and bool(user.password)
        stored = user.password if user is not None and usable else _DUMMY_HASH
        matches = password_matches(stored, password)
        return user if usable and matches else None

    def demo_users(self) -> list[str]:
        """Users (not disabled) whose password is still the published demo password."""
        self._reload()
        return [
            u.id
            for u in self._users.values()
            if not u.disabled and u.password and password_matches(u.password, DEMO_PASSWORD)
        ]

    def check_mode(self) -> None:
        """Outside demo mode (``HALL_DEMO=0``) the gateway refuses to start while a demo password is left."""
        if self._settings is None or self._settings.demo:
            return
        demo = self.demo_users()
        if demo:
            raise DemoUsersError(
                f"HALL_DEMO=0（生产模式），但 {self.path} 中仍有 {len(demo)} 个用户使用演示口令 {DEMO_PASSWORD}"
                f"（{'、'.join(demo[:5])}{'等' if len(demo) > 5 else ''}）：网关拒绝启动。"
                "请用 ./hall users passwd <用户> 修改口令，或 ./hall users disable <用户> 停用，"
                "或以 HALL_DEMO=1 运行演示"
            )

    # ------------------------------------------------------------------ tokens

    def token(self, user: User, now: float | None = None) -> str:
        issued = now if now is not None else self.clock.now().timestamp()
        claims = {
            "sub": user.id,
            "iat": int(issued),
            "exp": int(issued + TOKEN_TTL_S),
            "jti": uuid.uuid4().hex,
            "iat_ms": int(issued * 1000),
        }
        return jwt.encode(claims, self._keys[0], algorithm=ALGORITHM)

    def _decode(self, token: str) -> dict[str, Any]:
        known = self._verified.get(token)
        if known is not None:
            return known
        # The hall's clock (not the real date) decides expiry, so PyJWT's own time checks are off.
        options = cast(
            JWTDecodeOptions,
            {"verify_exp": False, "verify_iat": False, "verify_nbf": False, "require": ["sub", "exp", "jti"]},
        )
        for key in self._keys:
            try:
                payload = Token.decode_payload(token, key, [ALGORITHM], options=options)
            except (jwt.PyJWTError, ValueError, TypeError, UnicodeError):
                continue
            if isinstance(payload, dict):
                if len(self._verified) >= VERIFIED_KEPT:
                    del self._verified[next(iter(self._verified))]
                self._verified[token] = payload
                return payload
        raise NotAuthorizedException("登录凭证无效，请重新登录")

    def verify(self, token: str) -> Session:
        """Signature, shape and expiry of a token (no revocation: see ``resolve``); 401 for anything wrong."""
        if not token or len(token) > 4096 or not token.isascii():
            raise NotAuthorizedException("登录凭证无效，请重新登录")
        payload = self._decode(token)
        sub, jti, exp = payload.get("sub"), payload.get("jti"), payload.get("exp")
        iat = payload.get("iat_ms")
        if iat is None and isinstance(payload.get("iat"), int):
            iat = payload["iat"] * 1000
        valid = isinstance(sub, str) and isinstance(jti, str) and isinstance(exp, int) and isinstance(iat, int)
        if not valid or isinstance(exp, bool):
            raise NotAuthorizedException("登录凭证无效，请重新登录")
        if cast(int, exp) < self.clock.now().timestamp():
            raise NotAuthorizedException("登录已过期，请重新登录")
        user = self.get(cast(str, sub))
        if user is None or user.disabled:
            raise NotAuthorizedException(f"用户 {sub} 已停用")
        return Session(user=user, jti=cast(str, jti), issued_ms=cast(int, iat), expires=cast(int, exp))

    def _from_token(self, token: str) -> User:
        return self.verify(token).user

    # ------------------------------------------------------------------ revocation (Redis, every instance)

    def _key(self, *parts: str) -> str:
        namespace = self._settings.namespace if self._settings is not None else "hall"
        return ":".join((namespace, "gateway", "session", *parts))

    def _client(self) -> Redis:
        if self._redis is None:
            raise RuntimeError("the directory has no Redis: sessions cannot be revoked or checked")
        return self._redis()

    @property
    def revocable(self) -> bool:
        """Whether tokens are checked against the revocation records (a directory with Redis)."""
        return self._redis is not None

    def revocation_keys(self, session: Session) -> list[str]:
        """What to read (one MGET) to know whether ``session`` was logged out or revoked: see :meth:`judge`."""
        return [self._key("revoked", session.jti), self._key("not-before", session.user.id), self._key("since")]

    @staticmethod
    def judge(session: Session, found: list[bytes | None]) -> None:
        """401 with the reason when the values of :meth:`revocation_keys` refuse ``session``."""
        revoked, not_before, since = found
        if revoked is not None:
            raise NotAuthorizedException("此登录已注销，请重新登录")
        if not_before is not None and session.issued_ms <= int(not_before):
            raise NotAuthorizedException("此登录已被运维人员撤销，请重新登录")
        if since is not None and session.issued_ms <= int(since):
            raise NotAuthorizedException("系统数据已恢复，请重新登录")

    async def revoke(self, token: str) -> bool:
        """Logs one token out everywhere (until it would have expired anyway); False for a token not ours."""
        try:
            session = self.verify(token)
        except NotAuthorizedException:
            return False
        left = max(1, session.expires - int(self.clock.now().timestamp()) + 1)
        await self._client().set(self._key("revoked", session.jti), b"1", ex=left)
        return True

    async def revoke_user(self, user_id: str) -> None:
        """Every token of this user issued until now is refused from now on, on every gateway instance."""
        now_ms = int(self.clock.now().timestamp() * 1000)
        await self._client().set(self._key("not-before", user_id), str(now_ms), ex=TOKEN_TTL_S + 60)

    async def refuse_earlier_sessions(self) -> None:
        """Every token issued until now is refused from now on (the gateway's Redis was lost, and with it the
        record of which tokens were logged out or revoked: none of them may come back)."""
        now_ms = int(self.clock.now().timestamp() * 1000)
        await self._client().set(self._key("since"), str(now_ms), ex=TOKEN_TTL_S + 60)

    def presented(self, request: Request[Any, Any, Any]) -> Session | NotAuthorizedException | None:
        """The request's token checked here (signature, shape, expiry, user): None without one, the refusal for a
        bad one. Revocation needs Redis: the admission middleware reads it with the request's rate count."""
        token = _presented(request)
        if token is None:
            return None
        try:
            return self.verify(token)
        except NotAuthorizedException as refused:
            return refused

    @staticmethod
    def settle(request: Request[Any, Any, Any], outcome: Session | NotAuthorizedException | None) -> None:
        """Keeps the request's resolved session (or its refusal) for the handlers' ``session``/``caller``."""
        request.state[STATE_KEY] = outcome

    # ------------------------------------------------------------------ the handlers' API

    def session(self, request: Request[Any, Any, Any]) -> Session | None:
        """The request's verified session; None when it carries no token; 401 for a bad one."""
        outcome = request.state.get(STATE_KEY, _UNRESOLVED)
        if outcome is _UNRESOLVED:  # not through the middleware (a unit test): signature and expiry only
            token = _presented(request)
            return None if token is None else self.verify(token)
        if isinstance(outcome, NotAuthorizedException):
            raise outcome
        return cast(Session | None, outcome)

    def signed_in(self, request: Request[Any, Any, Any]) -> User | None:
        """The user of a valid session cookie or bearer token; None when there is neither."""
        session = self.session(request)
        return None if session is None else session.user

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


_UNRESOLVED = object()


def bearer(request: Request[Any, Any, Any]) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header[:7].lower() == "bearer " else None


def _presented(request: Request[Any, Any, Any]) -> str | None:
    """The bearer token, else the session cookie; None when the request carries neither."""
    token = bearer(request)
    if token is not None:
        return token
    return request.cookies.get(COOKIE) or None


def _with_role(user: User, roles: tuple[Role, ...]) -> User:
    if roles and user.role not in roles:
        wanted = "、".join(ROLE_NAMES[r] for r in roles)
        raise PermissionDeniedException(f"{user.name}（{user.role_name}）无权执行此操作，需要：{wanted}")
    return user

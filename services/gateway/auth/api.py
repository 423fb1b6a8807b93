"""POST /login from the page, POST /api/session for API clients, logout, revoking a user, and the home page.

Sign-ins are throttled per user id and per client address (``throttle.py``); logout puts the token's ``jti`` on
the revocation list in Redis, and an operator's revoke refuses every token the user was given until then.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, delete, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.params import Body, FromPath, FromQuery, JSONBody
from litestar.response import Redirect, Template

from services.gateway.auth.throttle import SignInThrottle, Throttled
from services.gateway.context import Gateway, HallDep, In, Req
from services.gateway.openapi import documented
from services.gateway.users import COOKIE, TOKEN_TTL_S, User, bearer

# Where each role starts its day.
HOME: dict[str, str] = {
    "clerk": "/desk",
    "staff": "/workbench",
    "supervisor": "/workbench",
    "kiosk": "/kiosk",
    "pad": "/pad",
    "operator": "/sla",
}


class LoginForm(msgspec.Struct, kw_only=True):
    user_id: str = ""
    password: str = ""
    next: str = ""


class SessionIn(In, frozen=True):
    user_id: str
    password: str


class SessionOut(msgspec.Struct, frozen=True, kw_only=True):
    token: str
    user_id: str
    name: str
    role: str
    department: str
    expires_in_s: int


class SignedOut(msgspec.Struct, frozen=True, kw_only=True):
    signed_out: bool


class Revoked(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    revoked: bool = True


def _safe_next(target: str, user: User) -> str:
    """Only a path inside the hall; anything else goes to the role's home page."""
    safe = target.startswith("/") and not target.startswith(("//", "/\\")) and target.isprintable()
    return target if safe else HOME[user.role]


def _address(request: Req) -> str:
    return request.client.host if request.client is not None else "unknown"


async def _sign_in(hall: Gateway, request: Req, user_id: str, password: str) -> User | None:
    """The user, or None for a wrong password; ``Throttled`` (429) after too many failures."""
    throttle = SignInThrottle(hall.settings)
    address = _address(request)
    await throttle.check(hall.redis, user_id, address)
    user = hall.users.sign_in(user_id, password)
    if user is None:
        await throttle.failed(hall.redis, user_id, address)
    else:
        await throttle.succeeded(hall.redis, user_id)
    return user


def _set_cookie(response: Response[Any], hall: Gateway, user: User) -> None:
    secure = hall.settings.public_url.lower().startswith("https://")
    response.set_cookie(
        COOKIE, hall.users.token(user), max_age=TOKEN_TTL_S, httponly=True, samesite="strict", secure=secure, path="/"
    )


class AuthController(Controller):
    tags = ("登录",)

    @get("/", include_in_schema=False)
    async def home(self, request: Req, hall: HallDep) -> Redirect:
        user = hall.users.page_user(request)
        return Redirect(HOME[user.role])

    @get("/login", include_in_schema=False)
    async def login_page(self, next: FromQuery[str] = "") -> Template:
        return Template(template_name="auth/login.html", context={"next": next, "error": "", "user": None})

    @post("/login", include_in_schema=False, status_code=303)
    async def login(
        self,
        request: Req,
        data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        hall: HallDep,
    ) -> Response[Any]:
        context = {"next": data.next, "error": "用户名或口令不正确", "user": None, "user_id": data.user_id}
        try:
            user = await _sign_in(hall, request, data.user_id.strip(), data.password)
        except Throttled as busy:
            context["error"] = busy.detail
            headers = {"Retry-After": str(busy.retry_after)}
            return Template(template_name="auth/login.html", context=context, status_code=429, headers=headers)
        if user is None:
            return Template(template_name="auth/login.html", context=context, status_code=401)
        response: Response[Any] = Redirect(_safe_next(data.next, user), status_code=303)
        _set_cookie(response, hall, user)
        return response

    @post("/logout", include_in_schema=False, status_code=303)
    async def logout(self, request: Req, hall: HallDep) -> Redirect:
        token = request.cookies.get(COOKIE)
        if token:
            await hall.users.revoke(token)
        response = Redirect("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    @post(
        "/api/session/logout",
        summary="注销当前凭证（Bearer 或会话 Cookie），所有网关实例立即生效",
        status_code=200,
        **documented(),
    )
    async def api_logout(self, request: Req, hall: HallDep) -> Response[SignedOut]:
        return await _logout(request, hall)

    @delete(
        "/api/session",
        summary="注销当前凭证（同 POST /api/session/logout）",
        status_code=200,
        **documented(),
    )
    async def api_logout_delete(self, request: Req, hall: HallDep) -> Response[SignedOut]:
        return await _logout(request, hall)

    @post(
        "/api/users/{user_id:str}/revoke",
        summary="撤销某用户此前取得的全部凭证（运维人员），所有网关实例立即生效",
        status_code=200,
        **documented(reasons={403: "不是运维人员，或跨站请求", 404: "没有此用户"}),
    )
    async def revoke_user(self, request: Req, user_id: FromPath[str], hall: HallDep) -> Revoked:
        hall.users.caller(request, "operator")
        if hall.users.get(user_id) is None:
            raise NotFoundException(f"没有用户 {user_id}")
        await hall.users.revoke_user(user_id)
        return Revoked(user_id=user_id)

    @post(
        "/api/session",
        summary="登录，取得 API 凭证（Bearer）",
        status_code=201,
        **documented(
            422,
            public=True,
            reasons={
                401: "用户名或口令不正确",
                429: "登录失败次数过多（按用户与来源地址计），或请求过于频繁；Retry-After 头给出需等待的秒数",
            },
        ),
    )
    async def session(self, request: Req, data: JSONBody[SessionIn], hall: HallDep) -> SessionOut:
        user = await _sign_in(hall, request, data.user_id, data.password)
        if user is None:
            raise NotAuthorizedException("用户名或口令不正确")
        return SessionOut(
            token=hall.users.token(user),
            user_id=user.id,
            name=user.name,
            role=user.role,
            department=user.department,
            expires_in_s=TOKEN_TTL_S,
        )


async def _logout(request: Req, hall: Gateway) -> Response[SignedOut]:
    hall.users.caller(request)  # 401 for a missing, bad, expired or already revoked token
    token = bearer(request) or request.cookies.get(COOKIE, "")
    await hall.users.revoke(token)
    response = Response(SignedOut(signed_out=True))
    if bearer(request) is None:
        response.delete_cookie(COOKIE, path="/")
    return response

"""POST /login from the page, POST /api/session for API clients, and the home page that sends each role on."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotAuthorizedException
from litestar.params import Body, FromQuery, JSONBody
from litestar.response import Redirect, Template

from services.gateway.context import HallDep, In, Req
from services.gateway.users import COOKIE, TOKEN_TTL_S, User

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


def _safe_next(target: str, user: User) -> str:
    """Only a path inside the hall; anything else goes to the role's home page."""
    return target if target.startswith("/") and not target.startswith("//") else HOME[user.role]


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
        self, data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)], hall: HallDep
    ) -> Response[Any]:
        user = hall.users.sign_in(data.user_id.strip(), data.password)
        if user is None:
            context = {"next": data.next, "error": "用户名或口令不正确", "user": None, "user_id": data.user_id}
            return Template(template_name="auth/login.html", context=context, status_code=401)
        response: Response[Any] = Redirect(_safe_next(data.next, user), status_code=303)
        response.set_cookie(COOKIE, hall.users.token(user), max_age=TOKEN_TTL_S, httponly=True, samesite="strict")
        return response

    @post("/logout", include_in_schema=False, status_code=303)
    async def logout(self) -> Redirect:
        response = Redirect("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @post("/api/session", summary="登录，取得 API 凭证（Bearer）", status_code=201)
    async def session(self, data: JSONBody[SessionIn], hall: HallDep) -> SessionOut:
        user = hall.users.sign_in(data.user_id, data.password)
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

"""The install secret: no default, every service refuses a missing, short or known-weak one (naming the variable),
keys derived per label, a per-install file made by ./hall, forged rating links refused, and demo passwords only in
demo mode.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import msgspec
import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from deploy import users as users_cli
from deploy.processes import ROOT
from deploy.secret import ensure_secret
from services.evaluation.app import build as build_evaluation
from services.evaluation.tokens import Claims, Purpose
from services.gateway.app import create_app
from services.gateway.users import DemoUsersError, Directory
from services.intake.app import build as build_intake
from services.routing.app import build as build_routing
from services.timing.app import build as build_timing
from shared.kafka import ServiceRuntime
from shared.secrets import WeakSecretError, check_secret, derive_key, derive_keys
from shared.settings import HallSettings, load_settings
from tests.halls import InProcessHall, asgi_client, free_port, lifespan
from tests.journeys import APPLICATION, CLERK
from tests.support import eventually

OLD_DEFAULT = "dev-only-secret-change-me"
WEAK = [
    pytest.param("", id="missing"),
    pytest.param("short-secret", id="short"),
    pytest.param(OLD_DEFAULT, id="old-public-default"),
    pytest.param(OLD_DEFAULT + "-" + OLD_DEFAULT, id="old-default-lengthened"),
    pytest.param("a" * 48, id="one-character-repeated"),
]


# ---------------------------------------------------------------- the check and the keys (no I/O)


def test_settings_have_no_default_secret() -> None:
    assert HallSettings().secret == ""
    assert load_settings({}).secret == ""


@pytest.mark.parametrize("secret", WEAK)
def test_a_weak_secret_is_refused_naming_the_variable(secret: str) -> None:
    with pytest.raises(WeakSecretError, match="HALL_SECRET"):
        check_secret(secret)


def test_a_strong_random_secret_passes() -> None:
    check_secret(os.environ["HALL_SECRET"])


def test_keys_are_derived_per_label_and_never_equal_the_secret() -> None:
    secret = os.environ["HALL_SECRET"]
    labels = ["session-signing", "rating-link", "pii-encryption", "pii-lookup"]
    keys = [derive_key(secret, label) for label in labels]
    assert len(set(keys)) == len(labels)
    assert all(len(key) == 32 and key != secret.encode()[:32] for key in keys)
    assert derive_key(load_settings({"HALL_SECRET": secret}), "pii-lookup") == derive_key(secret, "pii-lookup")
    assert derive_key("x" + secret[1:], "pii-lookup") != derive_key(secret, "pii-lookup")


def test_rotation_keys_put_the_current_secret_first() -> None:
    current, previous = "c" + os.environ["HALL_SECRET"], "p" + os.environ["HALL_SECRET"]
    settings = load_settings({"HALL_SECRET": current, "HALL_SECRET_PREVIOUS": previous})
    assert derive_keys(settings, "rating-link") == [
        derive_key(current, "rating-link"),
        derive_key(previous, "rating-link"),
    ]
    assert derive_keys(current, "rating-link") == [derive_key(current, "rating-link")]


# ---------------------------------------------------------------- the per-install file


def test_the_install_secret_file_is_private_strong_and_stable(tmp_path: Path) -> None:
    home = tmp_path / ".hall"
    first = ensure_secret(home)
    check_secret(first)
    assert (home.stat().st_mode & 0o777, (home / "secret").stat().st_mode & 0o777) == (0o700, 0o600)
    assert ensure_secret(home) == first
    other = ensure_secret(tmp_path / "other")
    assert other != first  # per install, never a shared default


def test_an_install_secret_file_with_a_weak_secret_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text(OLD_DEFAULT + "\n")
    with pytest.raises(WeakSecretError, match="HALL_SECRET"):
        ensure_secret(tmp_path)


def test_hall_exports_the_install_secret_to_what_it_starts(tmp_path: Path) -> None:
    """./hall's secret_env: HALL_SECRET unset → .hall/secret is made and exported, and demo mode is on."""
    script = f'source <(sed -n "/^secret_env()/,/^}}/p" hall); VENV={ROOT}/.venv; HALL_HOME={tmp_path}; secret_env; '
    script += 'echo "$HALL_SECRET|$HALL_DEMO"'
    env = {k: v for k, v in os.environ.items() if k not in ("HALL_SECRET", "HALL_DEMO")}
    done = subprocess.run(
        ["bash", "-c", script], check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    secret, demo = done.stdout.strip().split("|")
    assert secret == (tmp_path / "secret").read_text().strip()
    assert demo == "1"
    check_secret(secret)


# ---------------------------------------------------------------- every service refuses to start


BUILDERS: dict[str, Callable[[HallSettings], ServiceRuntime]] = {
    "intake": build_intake,
    "routing": build_routing,
    "timing": build_timing,
    "evaluation": build_evaluation,
}


@pytest.mark.integration
@pytest.mark.parametrize("service", sorted(BUILDERS))
@pytest.mark.parametrize("secret", WEAK)
async def test_each_service_refuses_to_start_with_a_weak_secret(
    settings: HallSettings, service: str, secret: str
) -> None:
    runtime = BUILDERS[service](msgspec.structs.replace(settings, secret=secret))
    with pytest.raises(WeakSecretError, match="HALL_SECRET"):
        await runtime.start()
    await runtime.stop()


async def _startup_error(settings: HallSettings) -> BaseException:
    """What the gateway's start-up raised (Litestar's lifespan wraps it in an exception group)."""
    app = create_app(settings, SimpleSpanProcessor(InMemorySpanExporter()))
    try:
        async with lifespan(app):
            pass
    except BaseException as exc:  # noqa: BLE001 (the error under test, unwrapped below)
        found: BaseException = exc
        while isinstance(found, BaseExceptionGroup):
            found = found.exceptions[0]
        return found
    raise AssertionError("the gateway started")


@pytest.mark.integration
@pytest.mark.parametrize("secret", WEAK)
async def test_the_gateway_refuses_to_start_with_a_weak_secret(settings: HallSettings, secret: str) -> None:
    refused = await _startup_error(msgspec.structs.replace(settings, secret=secret))
    assert isinstance(refused, WeakSecretError)
    assert "HALL_SECRET" in str(refused)


@pytest.mark.integration
async def test_a_weak_previous_secret_is_refused_too(settings: HallSettings) -> None:
    runtime = build_intake(msgspec.structs.replace(settings, secret_previous="short"))  # noqa: S106
    with pytest.raises(WeakSecretError, match="HALL_SECRET_PREVIOUS"):
        await runtime.start()
    await runtime.stop()


@pytest.mark.e2e
@pytest.mark.parametrize("service", ["intake", "gateway"])
def test_the_service_process_exits_non_zero_naming_the_variable(settings: HallSettings, service: str) -> None:
    env = {
        **os.environ,
        "HALL_SECRET": OLD_DEFAULT,
        "HALL_NAMESPACE": settings.namespace,
        "HALL_HTTP_PORT": str(free_port()),
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "REDIS_URL": settings.redis_url,
    }
    done = subprocess.run(
        [sys.executable, "-m", f"services.{service}"],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode != 0
    assert "HALL_SECRET" in done.stdout + done.stderr


# ---------------------------------------------------------------- forged rating links


def _old_link(secret: str, claims: Claims) -> str:
    """A rating link signed as the hall used to sign them, with a key anyone could compute from the old default."""
    key = hashlib.sha256(b"hall-rating-link:" + secret.encode()).digest()
    body = base64.urlsafe_b64encode(msgspec.json.encode(claims)).decode().rstrip("=")
    mac = base64.urlsafe_b64encode(hmac.new(key, body.encode(), hashlib.sha256).digest()).decode().rstrip("=")
    return f"{body}.{mac}"


@pytest.mark.integration
async def test_a_rating_link_forged_with_the_old_default_secret_is_refused(hall: InProcessHall) -> None:
    accepted = await hall.client.post(
        "/api/cases", json=APPLICATION, headers={**CLERK, "Idempotency-Key": os.urandom(8).hex()}
    )
    assert accepted.status_code == 201, accepted.text
    case_no = accepted.json()["case_no"]
    purposes: tuple[Purpose, ...] = ("评价", "追评", "整改评价")
    for purpose in purposes:
        claims = Claims(case_no=case_no, stage="受理", purpose=purpose, channel="短信", nonce=os.urandom(8).hex())
        forged = _old_link(OLD_DEFAULT, claims)

        async def refusal(link: str = forged) -> httpx.Response | None:
            answer = await hall.client.post(f"/api/rate/{link}", json={"level": "非常不满意", "text": "伪造"})
            return None if "没有它所指的办件" in answer.text else answer  # the gateway has not seen the case yet

        rated = await eventually(refusal)
        assert rated.status_code == 403, rated.text
        assert "伪造" in rated.json()["detail"] or "签名" in rated.json()["detail"]


# ---------------------------------------------------------------- demo passwords only in demo mode


@pytest.mark.integration
async def test_the_gateway_refuses_to_start_with_demo_passwords_outside_demo_mode(settings: HallSettings) -> None:
    production = msgspec.structs.replace(settings, demo=False)
    refused = await _startup_error(production)
    assert isinstance(refused, DemoUsersError)
    assert "HALL_DEMO=0" in str(refused)
    assert "clerk-zhang" in str(refused)
    assert Directory.for_gateway(production).demo_users()  # the shipped file is a demo file


def _users_cli(path: Path, *args: str, password: str = "") -> None:

    stdin, sys.stdin = sys.stdin, io.StringIO(password + "\n")
    try:
        assert users_cli.main(["--file", str(path), *args]) == 0
    finally:
        sys.stdin = stdin


@pytest.mark.integration
async def test_production_mode_starts_once_hall_users_replaced_every_demo_password(
    settings: HallSettings, tmp_path: Path
) -> None:
    path = tmp_path / "users.toml"
    path.write_bytes((ROOT / "data" / "users.toml").read_bytes())
    production = msgspec.structs.replace(settings, demo=False, users_file=str(path))
    for user_id in Directory.for_gateway(production).demo_users():
        if user_id == "clerk-zhang":
            _users_cli(path, "passwd", user_id, "--password-stdin", password="zhang-正确的口令-2027")  # noqa: S106
        else:
            _users_cli(path, "disable", user_id)
    _users_cli(
        path,
        "add",
        "clerk-new",
        "--name",
        "新同事",
        "--role",
        "clerk",
        "--department",
        "行政审批和政务服务局",
        "--password-stdin",
        password="new-colleague-口令-2027",  # noqa: S106
    )
    assert path.stat().st_mode & 0o777 == 0o600
    app = create_app(production, SimpleSpanProcessor(InMemorySpanExporter()))
    async with lifespan(app), asgi_client(app) as client:
        demo = await client.post("/api/session", json={"user_id": "clerk-zhang", "password": "hall2026"})
        assert demo.status_code == 401
        real = await client.post("/api/session", json={"user_id": "clerk-zhang", "password": "zhang-正确的口令-2027"})
        assert real.status_code == 201
        new = await client.post("/api/session", json={"user_id": "clerk-new", "password": "new-colleague-口令-2027"})
        assert new.status_code == 201
        token = {"Authorization": f"Bearer {new.json()['token']}"}
        assert (await client.get("/api/deliveries", headers=token)).status_code == 200
        _users_cli(path, "disable", "clerk-new")  # the running gateway re-reads the file
        assert (await client.get("/api/deliveries", headers=token)).status_code == 401
        again = await client.post("/api/session", json={"user_id": "clerk-new", "password": "new-colleague-口令-2027"})
        assert again.status_code == 401

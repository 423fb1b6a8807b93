"""评价链接（短信、二维码）的签名评价码：绑定办件、评价对象与用途；伪造或改动即被识别。"""

from __future__ import annotations

import base64
import hashlib
import hmac

import msgspec
import pytest

from services.evaluation.tokens import BadToken, Claims, LinkSigner

SIGNER = LinkSigner("test-secret")


def test_an_issued_token_verifies_to_its_case_stage_purpose_and_medium() -> None:
    token, claims = SIGNER.issue("15052520260301000001", "办结", "评价", "短信")
    assert SIGNER.verify(token) == claims
    assert (claims.case_no, claims.stage, claims.purpose, claims.channel) == (
        "15052520260301000001",
        "办结",
        "评价",
        "短信",
    )


def test_two_tokens_for_the_same_service_differ_by_their_nonce() -> None:
    first, a = SIGNER.issue("C1", "办结", "评价", "二维码")
    second, b = SIGNER.issue("C1", "办结", "评价", "二维码")
    assert first != second
    assert a.nonce != b.nonce


def test_a_token_whose_claims_were_changed_is_refused() -> None:
    token, claims = SIGNER.issue("C1", "办结", "评价", "短信")
    forged = msgspec.structs.replace(claims, case_no="C2")
    body = base64.urlsafe_b64encode(msgspec.json.encode(forged)).decode().rstrip("=")
    with pytest.raises(BadToken, match="签名不符"):
        SIGNER.verify(f"{body}.{token.partition('.')[2]}")


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token, _ = LinkSigner("another-hall").issue("C1", "办结", "评价", "短信")
    with pytest.raises(BadToken, match="伪造"):
        SIGNER.verify(token)


@pytest.mark.parametrize("token", ["", "abc", "abc.def", "."])
def test_garbage_is_refused(token: str) -> None:
    with pytest.raises(BadToken):
        SIGNER.verify(token)


def test_claims_are_plain_data() -> None:
    claims = Claims(case_no="C1", stage="受理", purpose="追评", channel="PC", nonce="n")
    assert msgspec.json.decode(msgspec.json.encode(claims), type=Claims) == claims


def _old_scheme(secret: str, body_claims: Claims) -> str:
    """A link signed the way the hall did before keys were derived per label (sha256 of a prefix and the secret)."""
    key = hashlib.sha256(b"hall-rating-link:" + secret.encode()).digest()
    body = base64.urlsafe_b64encode(msgspec.json.encode(body_claims)).decode().rstrip("=")
    mac = base64.urlsafe_b64encode(hmac.new(key, body.encode(), hashlib.sha256).digest()).decode().rstrip("=")
    return f"{body}.{mac}"


def test_a_link_forged_with_the_old_public_default_secret_is_refused() -> None:
    signer = LinkSigner("k" * 8 + "a-strong-install-secret-of-this-hall")
    claims = Claims(case_no="C1", stage="办结", purpose="追评", channel="短信", nonce="0123456789abcdef")
    with pytest.raises(BadToken, match="伪造"):
        signer.verify(_old_scheme("dev-only-secret-change-me", claims))


def test_a_non_ascii_token_is_refused_not_a_type_error() -> None:
    with pytest.raises(BadToken):
        SIGNER.verify("评价.码")


def test_rotation_accepts_links_of_the_previous_secret_and_signs_with_the_current_one() -> None:
    old, new = "old-install-secret-" + "x1" * 10, "new-install-secret-" + "y2" * 10
    before, claims = LinkSigner(old).issue("C1", "办结", "评价", "短信")
    rotated = LinkSigner(new, previous=old)
    assert rotated.verify(before) == claims
    after, _ = rotated.issue("C1", "办结", "评价", "短信")
    assert LinkSigner(new).verify(after).case_no == "C1"
    with pytest.raises(BadToken):
        LinkSigner(old).verify(after)
    with pytest.raises(BadToken):
        LinkSigner(new).verify(before)  # the rotation window closed: HALL_SECRET_PREVIOUS unset

"""评价链接（短信、二维码）的签名评价码：绑定办件、评价对象与用途；伪造或改动即被识别。"""

from __future__ import annotations

import base64

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

"""Personal data (shared.pii): sealing with AES-GCM, keyed lookup hashes, and the masks devices and the public see."""

from __future__ import annotations

import pytest

from services.gateway.ratings.masking import mask_id as public_mask_id
from shared.pii import (
    ENCRYPTION_LABEL,
    LOOKUP_LABEL,
    PREFIX,
    Pii,
    UnsealError,
    _derive,
    for_secret,
    is_sealed,
    mask_address,
    mask_id,
    mask_phone,
)

SECRET = "a-test-install-secret-of-enough-length-0123456789"  # noqa: S105 (a test key)
ID = "150525199001011237"
PHONE = "13912345678"
ADDRESS = "内蒙古自治区通辽市奈曼旗大沁他拉镇建设路12号"


def test_a_sealed_value_opens_to_the_same_text_and_hides_it() -> None:
    pii = Pii(SECRET)
    for text in (ID, PHONE, ADDRESS):
        sealed = pii.seal(text)
        assert sealed.startswith(PREFIX)
        assert is_sealed(sealed)
        assert text not in sealed
        assert pii.unseal(sealed) == text


def test_sealing_twice_gives_different_strings_and_sealing_a_sealed_value_keeps_it() -> None:
    pii = Pii(SECRET)
    first, second = pii.seal(ID), pii.seal(ID)
    assert first != second  # a fresh nonce each time: equal numbers are not linkable from the ciphertext
    assert pii.seal(first) == first
    assert pii.seal("") == ""


def test_plain_text_from_before_sealing_is_returned_unchanged() -> None:
    assert Pii(SECRET).unseal(ID) == ID


def test_another_secret_or_a_tampered_value_does_not_open() -> None:
    sealed = Pii(SECRET).seal(ID)
    with pytest.raises(UnsealError):
        Pii(SECRET + "-other").unseal(sealed)
    tampered = sealed[:-2] + ("AA" if not sealed.endswith("AA") else "BB")
    with pytest.raises(UnsealError):
        Pii(SECRET).unseal(tampered)
    with pytest.raises(UnsealError):
        Pii(SECRET).unseal(PREFIX + "!!")


def test_lookup_hash_is_keyed_stable_and_the_same_for_sealed_and_plain() -> None:
    pii = Pii(SECRET)
    assert pii.lookup_hash(ID) == pii.lookup_hash(pii.seal(ID))
    assert pii.lookup_hash(ID) != Pii(SECRET + "-other").lookup_hash(ID)
    assert ID not in pii.lookup_hash(ID)
    assert len(pii.lookup_hash(ID)) == 64
    assert pii.id_hash("150525-19900101123 7".replace(" ", "")) == pii.id_hash(ID)
    assert pii.id_hash(ID.lower()[:-1] + "7") == pii.id_hash(ID)


def test_lookup_and_encryption_keys_differ() -> None:
    assert _derive(SECRET, ENCRYPTION_LABEL) != _derive(SECRET, LOOKUP_LABEL)
    assert len(_derive(SECRET, ENCRYPTION_LABEL)) == 32  # AES-256


def test_for_secret_is_cached_per_secret() -> None:
    assert for_secret(SECRET) is for_secret(SECRET)
    assert for_secret(SECRET) is not for_secret(SECRET + "-other")


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        (ID, "150***********1237"),
        ("91150525MA0Q12345X", "911***********345X"),
        ("1234567", "*******"),
        ("", ""),
    ],
)
def test_mask_id(number: str, masked: str) -> None:
    assert mask_id(number) == masked
    assert public_mask_id(number) == masked  # the public page's mask is the same one


def test_masks_hide_the_whole_value() -> None:
    assert mask_phone(PHONE) == "139****5678"
    assert mask_phone("84123") == "***23"
    assert mask_address(ADDRESS) == "内蒙古自治区通辽市奈曼旗" + "*" * 10
    assert ADDRESS not in mask_address(ADDRESS)
    assert "建设路" not in mask_address(ADDRESS)
    assert mask_address("北京路1号") == "北****"
    assert mask_address("") == ""


def test_a_sealed_value_is_masked_without_showing_its_ciphertext() -> None:
    sealed = Pii(SECRET).seal(ID)
    assert mask_id(sealed) == "******"
    assert mask_phone(Pii(SECRET).seal(PHONE)) == "****"
    assert mask_address(Pii(SECRET).seal(ADDRESS)) == "****"


def test_during_a_rotation_values_sealed_under_the_previous_secret_still_open_and_are_found() -> None:
    old, new = Pii(SECRET), Pii(SECRET + "-new", previous=SECRET)
    sealed_before = old.seal(ID)
    assert new.unseal(sealed_before) == ID
    with pytest.raises(UnsealError):
        old.unseal(new.seal(ID))
    assert new.lookup_hashes(ID) == [Pii(SECRET + "-new").lookup_hash(ID), old.lookup_hash(ID)]
    assert new.lookup_hash(ID) == Pii(SECRET + "-new").lookup_hash(ID)
    assert Pii(SECRET, previous=SECRET).lookup_hashes(ID) == [old.lookup_hash(ID)]

"""申请人证件号码校验：居民身份证号与统一社会信用代码，错在哪一位就说哪一位。"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric, uscc

from services.intake.identity import USCC_ALPHABET, identity_problem, normalize

ID = "150525199001011237"  # valid: 奈曼旗, 1990-01-01
CREDIT = "1115052518609139YD"  # 住建局


def test_valid_numbers_pass() -> None:
    assert identity_problem("居民身份证", ID) is None
    assert identity_problem("居民身份证", "15052519780520331" + "5") is None
    assert identity_problem("统一社会信用代码", CREDIT) is None
    assert identity_problem("统一社会信用代码", "91110000600037341L") is None


def test_a_wrong_check_digit_names_the_18th_character_and_what_it_should_be() -> None:
    assert identity_problem("居民身份证", "150525199001011234") == "居民身份证号第18位校验码应为7，实际为4"
    assert identity_problem("统一社会信用代码", "1115052518609139YA") == "统一社会信用代码第18位校验码应为D，实际为A"


def test_an_x_check_digit_is_read_in_either_case() -> None:
    base = next(
        f"1505251990010{n:04d}" for n in range(1000, 9999) if ric.calc_check_digit(f"1505251990010{n:04d}0") == "X"
    )
    assert identity_problem("居民身份证", base + "x") is None
    assert normalize("居民身份证", base + "x") == base + "X"
    assert identity_problem("居民身份证", base + "1") == "居民身份证号第18位校验码应为X，实际为1"


@pytest.mark.parametrize(
    ("id_type", "number", "reason"),
    [
        ("居民身份证", "15052519900101123", "居民身份证号应为18位，实际为17位"),
        ("居民身份证", "150525199001011", "居民身份证号应为18位，实际为15位"),
        ("居民身份证", "15052519900A011237", "居民身份证号第12位应为数字，实际为“A”"),
        ("居民身份证", "150525199013011237", "居民身份证号第7–14位出生日期“19901301”不是有效日期"),
        ("统一社会信用代码", "1115052518609139Y", "统一社会信用代码应为18位，实际为17位"),
        ("统一社会信用代码", "11150A2518609139YD", "统一社会信用代码第6位应为数字，实际为“A”"),
        ("统一社会信用代码", "111505251860913IYD", "统一社会信用代码第16位“I”不是允许的字符（不含 I、O、Z、S、V）"),
        ("其他", "  ", "证件号码不能为空"),
    ],
)
def test_a_malformed_number_names_the_character(id_type: str, number: str, reason: str) -> None:
    assert identity_problem(id_type, number) == reason


def test_spaces_and_dashes_are_not_mistakes() -> None:
    assert identity_problem("居民身份证", "150525 19900101 1237") is None
    assert identity_problem("统一社会信用代码", "11150525-18609139YD") is None
    assert normalize("统一社会信用代码", "11150525-18609139yd") == CREDIT


digits = st.text(alphabet="0123456789", min_size=3, max_size=3)
birthdays = st.dates().filter(lambda d: d.year >= 1900).map(lambda d: d.strftime("%Y%m%d"))


@given(
    region=st.sampled_from(["150525", "110101", "152325"]),
    born=birthdays,
    order=digits,
    wrong=st.sampled_from("0123456789X"),
)
def test_any_resident_id_with_a_changed_check_digit_is_refused_naming_the_right_one(
    region: str, born: str, order: str, wrong: str
) -> None:
    body = region + born + order
    right = ric.calc_check_digit(body + "0")
    assert identity_problem("居民身份证", body + right) is None
    if wrong != right:
        assert identity_problem("居民身份证", body + wrong) == f"居民身份证号第18位校验码应为{right}，实际为{wrong}"


@given(body=st.tuples(st.text("0123456789", min_size=8, max_size=8), st.text(USCC_ALPHABET, min_size=9, max_size=9)))
def test_any_credit_code_with_a_changed_check_character_is_refused_naming_the_right_one(body: tuple[str, str]) -> None:
    head = "".join(body)
    right = uscc.calc_check_digit(head)
    assert identity_problem("统一社会信用代码", head + right) is None
    wrong = USCC_ALPHABET[(USCC_ALPHABET.index(right) + 1) % len(USCC_ALPHABET)]
    assert (
        identity_problem("统一社会信用代码", head + wrong) == f"统一社会信用代码第18位校验码应为{right}，实际为{wrong}"
    )

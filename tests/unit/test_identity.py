"""申请人证件号码校验：居民身份证号与统一社会信用代码，错在哪一位就说哪一位。"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric, uscc

from services.intake.identity import CREDIT_AUTHORITIES, USCC_ALPHABET, identity_problem, normalize

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
        (
            "统一社会信用代码",
            "11150A2518609139YD",
            "统一社会信用代码第6位应为数字（登记管理机关行政区划码），实际为“A”",
        ),
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


heads = st.sampled_from([a + c for a, (_, categories) in CREDIT_AUTHORITIES.items() for c in categories])


@given(
    body=st.tuples(heads, st.text("0123456789", min_size=6, max_size=6), st.text(USCC_ALPHABET, min_size=9, max_size=9))
)
def test_any_credit_code_with_a_changed_check_character_is_refused_naming_the_right_one(
    body: tuple[str, str, str],
) -> None:
    head = "".join(body)
    right = uscc.calc_check_digit(head)
    assert identity_problem("统一社会信用代码", head + right) is None
    wrong = USCC_ALPHABET[(USCC_ALPHABET.index(right) + 1) % len(USCC_ALPHABET)]
    assert (
        identity_problem("统一社会信用代码", head + wrong) == f"统一社会信用代码第18位校验码应为{right}，实际为{wrong}"
    )


# Codes of real holders, one per authority where one was at hand (their check characters are right, which a
# made-up code gets one time in 31): 机关, 事业单位, 律师事务所, 基金会, 企业; and the 嘎查 collective of the
# legal-acts audit, whose code begins with the 农业 authority's letter.
REAL_CODES = [
    "11100000000013127D",
    "12100000400010275N",
    "31110000400000448M",
    "53100000500021676K",
    "91110000600037341L",
    "N2150525MF00000010",
]


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_of_each_kind_of_registration_authority_pass(code: str) -> None:
    assert identity_problem("统一社会信用代码", code) is None


@pytest.mark.parametrize("authority", list(CREDIT_AUTHORITIES))
def test_every_registration_authority_of_the_standard_is_known_with_its_categories(authority: str) -> None:
    name, categories = CREDIT_AUTHORITIES[authority]
    head = f"{authority}{categories[0]}150525MA0Q8K7X3"
    assert identity_problem("统一社会信用代码", head + uscc.calc_check_digit(head)) is None, name


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("B2150525MF0000001", "第1位登记管理部门代码“B”不存在"),
        ("N5150525MF0000001", "第2位机构类别代码“5”不属于农业登记管理部门（应为 1、2、3、9 之一）"),
        ("94150525MA0Q8K7X3", "第2位机构类别代码“4”不属于工商登记管理部门（应为 1、2、3 之一）"),
        ("N21505A5MF0000001", "第7位应为数字（登记管理机关行政区划码），实际为“A”"),
    ],
)
def test_a_head_outside_the_standard_is_refused_naming_the_position(code: str, reason: str) -> None:
    problem = identity_problem("统一社会信用代码", code + uscc.calc_check_digit(code))
    assert problem is not None
    assert reason in problem

"""Applicant identity numbers: 居民身份证号 (GB 11643) and 统一社会信用代码 (GB 32100), checked with python-stdnum.

A wrong number is refused with a reason that names the offending character, e.g. "第18位校验码应为X，实际为4":
the expected check character is computed with the library's own checksum functions.
"""

from __future__ import annotations

import re
import unicodedata

from stdnum import numdb
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100: no I, O, Z, S, V


# After NFKC (full-width ０–９ and Ａ–Ｚ become ASCII), only these may stand in a number; anything else, such
# as Arabic-Indic or Devanagari digits that str.isdigit() accepts, is refused before any checksum or list lookup.
ASCII_NUMBER = re.compile(r"[0-9A-Z]*")


def normalize(id_type: str, number: str) -> str:
    """The number as stored and compared: NFKC, no spaces or dashes, check letters upper-case."""
    number = unicodedata.normalize("NFKC", number)
    if id_type in ("居民身份证", "统一社会信用代码"):
        return re.sub(r"[\s\-\u2010-\u2015\u2212]", "", number).upper()
    return number.strip()


def _not_ascii(what: str, number: str) -> str | None:
    for position, char in enumerate(number, start=1):
        if not ASCII_NUMBER.fullmatch(char):
            return f"{what}第{position}位“{char}”（U+{ord(char):04X}）不是允许的字符：只能是数字 0–9 和大写字母"
    return None


def identity_problem(id_type: str, number: str) -> str | None:
    """Why ``number`` is not a valid number of ``id_type`` (zh-CN, naming the character), or None."""
    if id_type == "居民身份证":
        return _resident_id_problem(normalize(id_type, number))
    if id_type == "统一社会信用代码":
        return _credit_code_problem(normalize(id_type, number))
    return None if number.strip() else "证件号码不能为空"


def _resident_id_problem(number: str) -> str | None:
    what = "居民身份证号"
    if problem := _not_ascii(what, number):
        return problem
    if len(number) != 18:
        return f"{what}应为18位，实际为{len(number)}位"
    for position, char in enumerate(number[:17], start=1):
        if not "0" <= char <= "9":
            return f"{what}第{position}位应为数字，实际为“{char}”"
    try:
        ric.get_birth_date(number)
    except ValidationError:
        return f"{what}第7–14位出生日期“{number[6:14]}”不是有效日期"
    expected = ric.calc_check_digit(number)
    if number[17] != expected:
        return f"{what}第18位校验码应为{expected}，实际为{number[17]}"
    return None


def _credit_code_problem(number: str) -> str | None:  # noqa: PLR0911 (one return per reason)
    what = "统一社会信用代码"
    if problem := _not_ascii(what, number):
        return problem
    if len(number) != 18:
        return f"{what}应为18位，实际为{len(number)}位"
    for position, char in enumerate(number[:17], start=1):
        if position <= 8 and not "0" <= char <= "9":
            return f"{what}第{position}位应为数字，实际为“{char}”"
        if char not in USCC_ALPHABET:
            return f"{what}第{position}位“{char}”不是允许的字符（不含 I、O、Z、S、V）"
    expected = uscc.calc_check_digit(number)
    if number[17] != expected:
        return f"{what}第18位校验码应为{expected}，实际为{number[17]}"
    # The library's own verdict, so any rule it adds later is kept too.
    try:
        uscc.validate(number)
    except ValidationError as exc:
        return f"{what}无效：{exc}"
    return None


def home_province(id_type: str, number: str) -> tuple[str, str] | None:
    """(code, name) of the province that issued a 居民身份证 or registered a 统一社会信用代码's holder."""
    n = normalize(id_type, number)
    if id_type == "居民身份证":
        code = n[:2]
    elif id_type == "统一社会信用代码":
        code = n[2:4]
    else:
        return None
    names = [str(props["province"]) for _, props in numdb.get("cn/loc").info(code) if "province" in props]
    return code, names[0] if names else code

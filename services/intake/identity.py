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


# GB 32100-2015 with the codes allotted since: the registration authority (第1位) and, per authority, the
# categories of holder it registers (第2位). The 农业 authority registers rural collective economic
# organisations (组级/村级/乡镇级, e.g. a 嘎查's collective), whose codes begin with a letter.
CREDIT_AUTHORITIES: dict[str, tuple[str, str]] = {
    "1": ("机构编制", "1239"),  # 机关, 事业单位, 中央编办直接管理机构编制的群众团体, 其他
    "2": ("外交", "19"),  # 外国常驻新闻机构, 其他
    "3": (
        "司法行政",
        "1234569",
    ),  # 律师执业机构, 公证处, 基层法律服务所, 司法鉴定机构, 仲裁委员会, 外国律师事务所驻华代表机构, 其他
    "4": ("文化", "19"),  # 外国在华文化中心, 其他
    "5": ("民政", "1239"),  # 社会团体, 民办非企业单位, 基金会, 其他
    "6": ("旅游", "129"),  # 外国旅游部门常驻代表机构, 港澳台地区旅游部门常驻内地代表机构, 其他
    "7": ("宗教", "129"),  # 宗教活动场所, 宗教院校, 其他
    "8": ("工会", "19"),  # 基层工会, 其他
    "9": ("工商", "123"),  # 企业, 个体工商户, 农民专业合作社
    "A": ("中央军委改革和编制办公室", "19"),  # 军队事业单位, 其他
    "N": ("农业", "1239"),  # 组级集体经济组织, 村级集体经济组织, 乡镇级集体经济组织, 其他
    "Y": ("其他", "1"),
}


def _credit_code_problem(number: str) -> str | None:  # noqa: PLR0911 (one return per reason)
    what = "统一社会信用代码"
    if problem := _not_ascii(what, number):
        return problem
    if len(number) != 18:
        return f"{what}应为18位，实际为{len(number)}位"
    authority = CREDIT_AUTHORITIES.get(number[0])
    if authority is None:
        return f"{what}第1位登记管理部门代码“{number[0]}”不存在（应为 {'、'.join(CREDIT_AUTHORITIES)} 之一）"
    name, categories = authority
    if number[1] not in categories:
        return f"{what}第2位机构类别代码“{number[1]}”不属于{name}登记管理部门（应为 {'、'.join(categories)} 之一）"
    for position, char in enumerate(number[2:8], start=3):
        if not "0" <= char <= "9":
            return f"{what}第{position}位应为数字（登记管理机关行政区划码），实际为“{char}”"
    for position, char in enumerate(number[8:17], start=9):
        if char not in USCC_ALPHABET:
            return f"{what}第{position}位“{char}”不是允许的字符（不含 I、O、Z、S、V）"
    # The check character over all 17 (letters included), with the library's weights and alphabet; its own
    # validate() is not used: it wrongly wants the first 8 characters to be digits.
    expected = uscc.calc_check_digit(number)
    if number[17] != expected:
        return f"{what}第18位校验码应为{expected}，实际为{number[17]}"
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

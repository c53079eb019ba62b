"""The words a school or bureau office writes in its own files, mapped to the suite's codes.

Versioned data, like a policy: an import records the VERSION it read a file with, and a new
word is added in a new version rather than by changing what an old one meant. Every list
holds the code itself too (an export of the suite re-imports), and the Chinese labels that
exports write (LABELS) are the first word of each code.
"""

from __future__ import annotations

VERSION = "vocabulary-2026-12"

STAGES: dict[str, tuple[str, ...]] = {
    "kindergarten": ("幼儿园", "学前", "学前教育"),
    "primary": ("小学",),
    "junior": ("初中", "初级中学"),
    "senior": ("高中", "高级中学", "普通高中"),
    "vocational": ("职业学校", "中职", "职高", "中等职业学校", "职业高中"),
    "nine_year": ("九年一贯制", "九年一贯制学校"),
    "complete": ("完全中学",),
}
MODES: dict[str, tuple[str, ...]] = {
    "centralized": ("集中", "集中培训", "面授"),
    "online": ("网络", "网络研修", "线上", "在线"),
    "blended": ("混合", "混合式", "线上线下混合"),
    "school_based": ("校本", "校本研修"),
    "degree": ("学历", "学历提升", "学历教育"),
}
LEVELS: dict[str, tuple[str, ...]] = {
    "national": ("国家级", "国培"),
    "provincial": ("省级", "省培"),
    "municipal": ("市级", "市培"),
    "district": ("区县级", "区级", "县级"),
    "school": ("校级", "校本"),
}
CATEGORIES: dict[str, tuple[str, ...]] = {
    "mandatory": ("必修",),
    "self_selected": ("选修", "自主选学"),
}
ROLES: dict[str, tuple[str, ...]] = {
    "principal": ("校长", "园长", "校（园）长"),
    "middle_cadre": ("中层干部", "中层"),
    "class_teacher": ("班主任",),
    "new_teacher": ("新教师", "新任教师", "新入职教师"),
    "backbone": ("骨干教师", "骨干"),
    "kindergarten": ("幼儿园教师", "幼师"),
    "rural": ("乡村教师", "农村教师"),
}
YES = ("是", "yes", "true", "1", "y")
NO = ("否", "no", "false", "0", "n")


def lookup(table: dict[str, tuple[str, ...]], text: str) -> str | None:
    """The code a word stands for (the code itself too), or None."""
    word = text.strip()
    folded = word.lower()
    for code, words in table.items():
        if folded == code or word in words:
            return code
    return None


def label(table: dict[str, tuple[str, ...]], code: str) -> str:
    """The Chinese word an export writes for a code."""
    words = table.get(code)
    return words[0] if words else code


def choices(table: dict[str, tuple[str, ...]]) -> str:
    return "、".join(words[0] for words in table.values())

"""The four fault levels of the service plan; the only place their names are spelt."""

from __future__ import annotations

from enum import IntEnum


class Level(IntEnum):
    """Fault level: L1 is the most urgent. Values are what SQL, the API and rules store."""

    L1 = 1
    L2 = 2
    L3 = 3
    L4 = 4

    @property
    def name_zh(self) -> str:
        return _NAMES[self][0]

    @property
    def name_en(self) -> str:
        return _NAMES[self][1]

    @property
    def meaning_zh(self) -> str:
        return _NAMES[self][2]

    @property
    def meaning_en(self) -> str:
        """What the level means, in words of its own (the label already says its name)."""
        return _MEANINGS_EN[self]

    def label(self, lang: str = "en") -> str:
        """Short display label, e.g. 'L1 system stopped' or 'L1 一级故障'."""
        return f"{self.name} {self.name_zh if lang.startswith('zh') else self.name_en}"


_NAMES: dict[Level, tuple[str, str, str]] = {
    Level.L1: ("一级故障", "system stopped", "系统停止运行"),
    Level.L2: ("二级故障", "severe performance drop", "系统性能严重下降"),
    Level.L3: ("三级故障", "performance affected", "系统性能受到影响"),
    Level.L4: ("四级故障", "information / consultation", "信息咨询"),
}
_MEANINGS_EN: dict[Level, str] = {
    Level.L1: "the recording system does not run",
    Level.L2: "the system runs with a severe loss of performance",
    Level.L3: "the system runs with its performance affected",
    Level.L4: "a question or information, nothing is broken",
}

"""Faults in the reader's language on the dashboard: the rule's title filled from the
fault, its description, the "check first" list and evidence as labelled lines
(``collector.rules.texts``). A site's own rule without texts keeps its stored title."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from roomwatch.collector.db import dashboard_queries
from roomwatch.collector.db.queries import FaultView
from roomwatch.collector.rules.texts import LANGUAGES, FaultWords, fault_words


class Wording:
    """``words(fault)`` in templates: a fault's texts in one language."""

    def __init__(
        self,
        lang: str,
        evidence: Mapping[int, Mapping[str, Any]],
        room_names: Mapping[str, str],
    ) -> None:
        self.lang = lang
        self._evidence = evidence
        self._room_names = room_names

    @classmethod
    def load(
        cls,
        session: Session,
        lang: str,
        faults: Iterable[FaultView],
        room_names: Mapping[str, str],
    ) -> Wording:
        ids = [f.id for f in faults]
        return cls(lang, dashboard_queries.fault_evidence(session, ids), room_names)

    def __call__(self, fault: FaultView, lang: str | None = None) -> FaultWords:
        return fault_words(
            fault.rule_id,
            lang or self.lang,
            title=fault.title,
            evidence=self._evidence.get(fault.id),
            device=fault.device,
            room=self._room_names.get(fault.room_id or "", fault.room_id),
            description=fault.description,
        )

    def titles(self, fault: FaultView) -> dict[str, str]:
        """language → title, for the live feed (one snapshot serves every reader)."""
        return {lang: self(fault, lang).title for lang in LANGUAGES}

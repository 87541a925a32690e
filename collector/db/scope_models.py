"""Which sites a user is bound to (migration ``0010_user_sites``).

A user with rows here sees only those sites, everywhere; a ``school`` user without rows sees
nothing; other users without rows see every site (``collector.db.scope``)."""

from __future__ import annotations

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from roomwatch.collector.db.models import Base


class UserSite(Base):
    __tablename__ = "user_sites"
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    site_id: Mapped[str] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True, index=True
    )

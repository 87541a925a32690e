"""What a site's inspection report carries beyond the measurements: the school's logo and
the names of the two representatives who sign it (the customer's and the integrator's).

Configured per site in the inventory file (``sites[].report``), validated when the file is
loaded (so ``roomwatch collector --check`` names a missing or non-image logo), and read
again when a report is made. A name left out prints a blank line to write it by hand.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

log = logging.getLogger(__name__)

LOGO_MAX_BYTES = 1024 * 1024  # a logo, not a photograph: every report embeds it
# The file's first bytes tell its type; a renamed file of another kind is refused early.
_LOGO_TYPES = {
    ".png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".svg": ("image/svg+xml", (b"<svg", b"<?xml")),
}
Name = Annotated[str, Field(min_length=1, max_length=100)]


class SiteReportSettings(BaseModel):
    """``sites[].report`` of the inventory file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    logo: Path | None = Field(
        default=None,
        description="PNG, JPEG or SVG, at most 1 MiB; relative to the inventory file.",
    )
    customer_signer: Name | None = Field(
        default=None, description="The school's representative who signs the report."
    )
    integrator: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None, description="The service provider's name on the sign-off block."
    )
    integrator_signer: Name | None = Field(
        default=None, description="The service provider's representative who signs."
    )
    summary_over_rooms: int | None = Field(
        default=None,
        ge=1,
        description="More rooms than this: the report leads with a summary part and puts "
        "every room's and device's table in an annex (default 60).",
    )

    @field_validator("logo")
    @classmethod
    def _logo_is_an_image(cls, path: Path | None) -> Path | None:
        if path is not None:
            problem = logo_problem(path)
            if problem:
                raise PydanticCustomError("logo", problem)
        return path


def logo_problem(path: Path) -> str | None:
    """Why ``path`` cannot be the report's logo, or None when it can."""
    kind = _LOGO_TYPES.get(path.suffix.lower())
    if kind is None:
        return f"logo {path.name!r}: expected a .png, .jpg, .jpeg or .svg file"
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(256)
    except OSError as exc:
        return f"logo {str(path)!r}: cannot read it ({exc.strerror or exc})"
    if size > LOGO_MAX_BYTES:
        return f"logo {path.name!r}: {size} bytes, at most {LOGO_MAX_BYTES} expected"
    if not any(head.lstrip().startswith(magic) for magic in kind[1]):
        return f"logo {path.name!r}: the content is not a {path.suffix.lower()[1:]} image"
    return None


@dataclass(frozen=True)
class SignOff:
    """The sign-off block as the report prints it; None prints a blank line."""

    customer: str | None  # the school / customer organisation
    customer_signer: str | None
    integrator: str | None
    integrator_signer: str | None
    logo_data_uri: str | None = None


def sign_off_of(
    settings: SiteReportSettings | None, customer: str | None, site_name: str
) -> SignOff:
    """The block for one report: the configured names, the customer organisation from the
    inspection schedule (else the site's name), and the logo embedded as a data URI so the
    HTML stands alone and WeasyPrint needs no file access."""
    settings = settings or SiteReportSettings()
    return SignOff(
        customer=customer or site_name,
        customer_signer=settings.customer_signer,
        integrator=settings.integrator,
        integrator_signer=settings.integrator_signer,
        logo_data_uri=_data_uri(settings.logo) if settings.logo else None,
    )


def _data_uri(path: Path) -> str | None:
    # Checked when the inventory was loaded; a file removed since then leaves the report
    # without a logo rather than without a report.
    problem = logo_problem(path)
    if problem:
        log.warning("report printed without its logo: %s", problem)
        return None
    mime = _LOGO_TYPES[path.suffix.lower()][0]
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"

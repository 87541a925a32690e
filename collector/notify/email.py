"""E-mail through SMTP (smtplib): plain, implicit TLS or STARTTLS, optional login."""

from __future__ import annotations

import base64
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from roomwatch.collector.notify.base import EMAIL_CHANNEL, DeliveryError, OutgoingMessage, scrub


class EmailSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = Field(
        default="starttls", description="none, STARTTLS after connecting, or TLS from the start."
    )
    username: str | None = None
    password: SecretStr | None = None
    sender: str = Field(description="From: address, e.g. roomwatch@example.edu.cn")
    ca_file: Path | None = Field(
        default=None, description="CA bundle that signs the server's certificate."
    )
    timeout_s: float = Field(default=20.0, gt=0)


class EmailChannel:
    """Sends each message as a UTF-8 text e-mail to its recipient address."""

    def __init__(self, settings: EmailSettings, name: str = EMAIL_CHANNEL) -> None:
        self.name = name
        self.settings = settings

    def send(self, message: OutgoingMessage) -> None:
        if not message.recipient:
            raise DeliveryError("e-mail message without a recipient address")
        mail = EmailMessage()
        mail["From"] = self.settings.sender
        mail["To"] = message.recipient
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid(idstring=f"roomwatch-{message.id}")
        mail.set_content(message.body)
        try:
            with self._connect() as smtp:
                if self.settings.username and self.settings.password is not None:
                    smtp.login(self.settings.username, self.settings.password.get_secret_value())
                smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            where = f"{self.settings.host}:{self.settings.port}"
            raise DeliveryError(
                scrub(f"SMTP {where}: {type(exc).__name__}: {exc}", self._secrets())
            ) from None

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        context = ssl.create_default_context(
            cafile=str(settings.ca_file) if settings.ca_file else None
        )
        if settings.security == "tls":
            return smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout_s, context=context
            )
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s)
        try:
            if settings.security == "starttls":
                smtp.starttls(context=context)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _secrets(self) -> list[str]:
        if self.settings.password is None:
            return []
        password = self.settings.password.get_secret_value()
        return [password, base64.b64encode(password.encode()).decode()]

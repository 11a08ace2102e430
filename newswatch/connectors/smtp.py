"""SMTP delivery (plain smtplib: STARTTLS or implicit TLS, optional login, bounded timeouts)."""
from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from ..settings import Settings


class SmtpError(Exception):
    """Delivery failed; the message says why (never the password)."""


def send(settings: Settings, msg: EmailMessage) -> None:
    if not settings.smtp_host:
        raise SmtpError("SMTP_HOST is not set")
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    try:
        if settings.smtp_ssl:
            smtp = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout,
                                    context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout)
        with smtp:
            smtp.ehlo()
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password or "")
            refused = smtp.send_message(msg)
            if refused:
                raise SmtpError(f"{where} refused recipients: {sorted(refused)}")
    except smtplib.SMTPAuthenticationError as exc:
        raise SmtpError(f"{where}: authentication failed for user {settings.smtp_username!r} ({exc.smtp_code})") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise SmtpError(f"{where} refused all recipients: {sorted(exc.recipients)}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise SmtpError(f"{where}: {type(exc).__name__}: {exc}") from None

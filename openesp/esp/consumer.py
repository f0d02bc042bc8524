"""Consumer mailbox services, refused as custom SMTP hosts: they do not allow bulk mail.

Matching is on the host's registrable domain and its subdomains, never on a substring:
``smtp.gmail.com`` is refused, ``gmail.example.com`` and ``notgmail.com`` are not.
"""

from __future__ import annotations

# Domains (and all their subdomains) of consumer mailbox providers and their SMTP hosts.
CONSUMER_DOMAINS: dict[str, str] = {
    "gmail.com": "Gmail",
    "googlemail.com": "Gmail",
    "outlook.com": "Outlook",
    "hotmail.com": "Outlook/Hotmail",
    "live.com": "Outlook/Live",
    "msn.com": "Outlook/MSN",
    "office365.com": "Office 365",
    "outlook.office365.com": "Office 365",
    "yahoo.com": "Yahoo",
    "yahoo.co.uk": "Yahoo",
    "ymail.com": "Yahoo",
    "icloud.com": "iCloud",
    "me.com": "iCloud",
    "mac.com": "iCloud",
    "mail.me.com": "iCloud",
    "aol.com": "AOL",
    "gmx.com": "GMX",
    "gmx.net": "GMX",
    "gmx.de": "GMX",
    "web.de": "WEB.DE",
    "mail.ru": "Mail.ru",
    "yandex.com": "Yandex",
    "yandex.ru": "Yandex",
    "zoho.com": "Zoho Mail",
    "zoho.eu": "Zoho Mail",
    "zohomail.com": "Zoho Mail",
    "aim.com": "AOL",
    "mail.com": "Mail.com",
    "gmx.at": "GMX",
    "gmx.ch": "GMX",
    "rocketmail.com": "Yahoo",
    "yahoo.de": "Yahoo",
    "yahoo.fr": "Yahoo",
    "yandex.net": "Yandex",
    "qq.com": "QQ Mail",
    "163.com": "NetEase Mail",
    "126.com": "NetEase Mail",
    "pm.me": "Proton Mail",
    "proton.me": "Proton Mail",
    "protonmail.com": "Proton Mail",
    "protonmail.ch": "Proton Mail",
}


def consumer_service(host: str) -> str | None:
    """The consumer service a host belongs to, or None."""
    name = host.strip().rstrip(".").lower()
    labels = name.split(".")
    for start in range(len(labels) - 1):
        service = CONSUMER_DOMAINS.get(".".join(labels[start:]))
        if service:
            return service
    return None

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from openesp.accounts.models import Workspace
from openesp.delivery.dkim import DkimKey
from openesp.delivery.domains import add_dkim_key, verify_domain
from openesp.delivery.models import DkimKeyRecord
from openesp.lib.errors import InvalidInput
from openesp.messaging.models import SendingDomain
from openesp.messaging.senders import add_sending_domain, clean_domain


class Command(BaseCommand):
    help = "Manage sending domains and their DKIM keys."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="add a sending domain (if new) and a new DKIM key; prints the DNS record")
        add.add_argument("domain")
        add.add_argument("--workspace", type=int, help="the workspace's own domain (default: the operator's)")
        add.add_argument("--algorithm", choices=["rsa", "ed25519"], default="rsa")
        add.add_argument("--selector", default="")
        sub.add_parser("list", help="list sending domains and keys")
        check = sub.add_parser("verify", help="look up the domain's DKIM records in DNS")
        check.add_argument("domain")
        check.add_argument("--workspace", type=int)
        off = sub.add_parser("deactivate", help="stop signing with a key")
        off.add_argument("domain")
        off.add_argument("selector")
        off.add_argument("--workspace", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"_{options['action']}")(options)
        except InvalidInput as exc:
            raise CommandError(str(exc)) from None

    def _workspace(self, options: dict[str, Any]) -> Workspace | None:
        if options.get("workspace") is None:
            return None
        workspace = Workspace.objects.filter(pk=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"--workspace: no workspace with id {options['workspace']}")
        return workspace

    def _add(self, options: dict[str, Any]) -> None:
        domain = add_sending_domain(options["domain"], self._workspace(options))
        record, key = add_dkim_key(domain, algorithm=options["algorithm"], selector=options["selector"])
        self.stdout.write(f"Publish this TXT record, then mail from {domain.domain} is signed with it:")
        self.stdout.write(f'{record.selector}._domainkey.{domain.domain}. IN TXT "{key.dns_record()}"')

    def _list(self, options: dict[str, Any]) -> None:
        for domain in SendingDomain.objects.select_related("workspace").order_by("domain"):
            owner = f"workspace {domain.workspace_id}" if domain.workspace_id else "operator"
            self.stdout.write(f"{domain.domain} ({owner})")
            for record in domain.dkim_keys.order_by("created_at"):
                state = "active" if record.active else "inactive"
                key = DkimKey.from_pem(domain.domain, record.selector, record.private_pem())
                self.stdout.write(f"  {record.selector} {record.algorithm} {state}: {key.dns_record()}")

    def _verify(self, options: dict[str, Any]) -> None:
        domain = SendingDomain.objects.filter(
            domain=clean_domain(options["domain"]), workspace=self._workspace(options)
        ).first()
        if domain is None:
            raise CommandError(f"no sending domain {options['domain']}")
        verified, detail = verify_domain(domain)
        if not verified:
            raise CommandError(detail)
        self.stdout.write(detail)

    def _deactivate(self, options: dict[str, Any]) -> None:
        updated = DkimKeyRecord.objects.filter(
            domain__domain=clean_domain(options["domain"]),
            domain__workspace=self._workspace(options),
            selector=options["selector"],
        ).update(active=False)
        if not updated:
            raise CommandError(f"no key {options['selector']} for {options['domain']}")
        self.stdout.write(f"deactivated {options['selector']}._domainkey.{options['domain']}")

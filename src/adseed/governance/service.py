"""Governance as the workspace uses it: bootstrap, principals, grants, audit, bound checks.

``Governance`` holds the metastore, the audit log and the authoriser of one
workspace; ``Workspace`` asks it one question per operation (``require``) with the
principal it acts for, so the same rules hold from the CLI, the HTTP server and the
agent alike.
"""

from __future__ import annotations

import getpass
import os
import re
from pathlib import Path

from adseed.errors import InvalidInput, PermissionDenied, Unauthenticated
from adseed.governance.audit import AuditLog, Verdict
from adseed.governance.authz import Authorizer
from adseed.governance.metastore import Grant, Metastore, Principal
from adseed.governance.securables import Privilege, Securable
from adseed.storage.tables import Tables

OWNER_TOKEN_FILE = ".owner-token"


def default_owner_name() -> str:
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "owner"
    return re.sub(r"[^A-Za-z0-9_.@-]", "_", name)[:64].lstrip("-.") or "owner"


class Governance:
    def __init__(self, home: Path, tables: Tables) -> None:
        self.home = home
        self.metastore = Metastore(home / "governance.db")
        self.audit = AuditLog(tables, home)
        self.authz = Authorizer(self.metastore, self.audit)

    # -- bootstrap and authentication ---------------------------------------------------

    def bootstrap(self, owner: str | None = None) -> Principal | None:
        """Create the metastore and the owner (an admin) once; the owner's token goes to a
        0600 file in the workspace, because whoever can read the workspace folder owns it
        anyway. Returns the new owner, or None when the workspace already had one."""
        self.metastore.create()
        if self.metastore.principals():
            return None
        name = owner or default_owner_name()
        token = self.metastore.add_principal(name, "user", is_admin=True)
        path = self.home / OWNER_TOKEN_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(token + "\n")
        self.audit.record(name, "init", "workspace", True, "workspace owner created")
        return self.metastore.principal(name)

    def authenticate(self, token: str | None) -> Principal:
        """The principal a token names; with no token, the owner (local use of the CLI)."""
        if not token:
            try:
                token = (self.home / OWNER_TOKEN_FILE).read_text().strip()
            except OSError as exc:
                raise Unauthenticated(
                    "no token given (ADSEED_TOKEN or --token) and the owner token is not readable"
                ) from exc
        principal = self.metastore.authenticate(token)
        if principal is None:
            raise Unauthenticated("the token does not name a principal of this workspace")
        return principal

    # -- checks -------------------------------------------------------------------------

    def require(
        self, who: Principal, action: str, privilege: Privilege, obj: Securable, target: str = ""
    ) -> None:
        self.authz.check(who, action, privilege, obj, target or None)

    def require_admin(self, who: Principal, action: str) -> None:
        self.audit.record(who.name, action, "workspace", who.is_admin, "needs workspace admin")
        if not who.is_admin:
            raise PermissionDenied(f"permission denied: {action} needs a workspace admin")

    def readable_volumes(self, who: Principal, volumes: list[str]) -> list[str]:
        return [
            v
            for v in volumes
            if self.authz.allowed(who, Privilege.READ_VOLUME, Securable.volume(v))
        ]

    # -- administration -----------------------------------------------------------------

    def add_principal(self, who: Principal, name: str, kind: str, is_admin: bool) -> str:
        self.require_admin(who, f"principal add {name}")
        return self.metastore.add_principal(name, kind, is_admin)

    def grant(self, who: Principal, privilege: str, kind: str, name: str, to: str) -> bool:
        priv, obj = Privilege.parse(privilege), Securable.parse(kind, name)
        self.authz.check_manage(who, "grant", obj, f"{priv.value} to {to}")
        return self.metastore.grant(to, priv, obj, by=who.name)

    def revoke(self, who: Principal, privilege: str, kind: str, name: str, frm: str) -> bool:
        priv, obj = Privilege.parse(privilege), Securable.parse(kind, name)
        self.authz.check_manage(who, "revoke", obj, f"{priv.value} from {frm}")
        return self.metastore.revoke(frm, priv, obj)

    def grants(
        self, who: Principal, principal: str | None = None, obj: Securable | None = None
    ) -> list[Grant]:
        """Admins and owners see every grant on what they manage; others their own."""
        if obj is not None and not self.authz.can_manage(who, obj) and principal != who.name:
            principal = who.name
        if obj is None and not who.is_admin:
            if principal not in (None, who.name):
                raise InvalidInput("only an admin may list another principal's grants")
            principal = who.name
        return self.metastore.grants(principal, obj)

    def verify_audit(self) -> Verdict:
        return self.audit.verify()

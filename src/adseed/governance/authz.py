"""The one authorisation check every read and write goes through, and its audit record.

Rules, as in Unity Catalog: closed by default; a privilege granted on a catalog or
schema holds for everything below it; acting on anything inside a catalog also needs
USE CATALOG on it, and inside a schema USE SCHEMA (on it or its catalog); ALL
PRIVILEGES means every privilege; owners hold every privilege on what they own and
below it, and admins on everything. Each decision, allowed or denied, is appended to
the audit trail before the caller sees it.
"""

from __future__ import annotations

from adseed.errors import PermissionDenied
from adseed.governance.audit import AuditLog
from adseed.governance.metastore import Metastore, Principal
from adseed.governance.securables import Kind, Privilege, Securable


class Authorizer:
    def __init__(self, metastore: Metastore, audit: AuditLog) -> None:
        self.metastore = metastore
        self.audit = audit

    def allowed(self, principal: Principal, privilege: Privilege, obj: Securable) -> bool:
        """The decision alone, without an audit record (for filtering many objects)."""
        if principal.is_admin:
            return True
        chain = obj.lineage()
        if self.metastore.owns_any(principal.name, chain):
            return True
        held = self.metastore.privileges_on(principal.name, chain)
        if Privilege.ALL_PRIVILEGES in held:
            return True
        needed = {privilege}
        if obj.kind is not Kind.CATALOG:
            needed.add(Privilege.USE_CATALOG)
        if obj.kind in (Kind.VOLUME, Kind.TABLE):
            needed.add(Privilege.USE_SCHEMA)
        return needed <= held

    def check(
        self,
        principal: Principal,
        action: str,
        privilege: Privilege,
        obj: Securable,
        target: str | None = None,
    ) -> None:
        """Audit the decision; raise PermissionDenied when it is a no."""
        ok = self.allowed(principal, privilege, obj)
        detail = f"needs {privilege.value} on {obj}"
        self.audit.record(principal.name, action, target or str(obj), ok, detail)
        if not ok:
            raise PermissionDenied(
                f"permission denied: {principal.name} lacks {privilege.value} on {obj}"
            )

    def can_manage(self, principal: Principal, obj: Securable) -> bool:
        """Who may grant and revoke on ``obj``: admins and owners of it or an ancestor."""
        return principal.is_admin or self.metastore.owns_any(principal.name, obj.lineage())

    def check_manage(self, principal: Principal, action: str, obj: Securable, detail: str) -> None:
        ok = self.can_manage(principal, obj)
        self.audit.record(principal.name, action, str(obj), ok, detail)
        if not ok:
            raise PermissionDenied(f"permission denied: {principal.name} does not own {obj}")

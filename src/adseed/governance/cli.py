"""``adseed principal|grant|revoke|grants|audit``: the governance commands."""

from __future__ import annotations

import json

import click

from adseed.governance.securables import Securable


def register(main: click.Group) -> None:
    from adseed.cli import _edge, _workspace

    @main.group()
    def principal() -> None:
        """Users and service principals, and their API tokens."""

    @principal.command("add")
    @click.argument("name")
    @click.option("--service", is_flag=True, help="A service principal, not a user.")
    @click.option("--admin", is_flag=True, help="A workspace admin (every privilege).")
    @click.pass_context
    @_edge
    def principal_add(ctx: click.Context, name: str, service: bool, admin: bool) -> None:
        """Create a principal; prints its token once (only its hash is kept)."""
        ws = _workspace(ctx)
        token = ws.governance.add_principal(
            ws.principal, name, "service" if service else "user", admin
        )
        click.echo(token)

    @principal.command("list")
    @click.pass_context
    @_edge
    def principal_list(ctx: click.Context) -> None:
        ws = _workspace(ctx)
        for p in ws.governance.metastore.principals():
            click.echo("\t".join([p.name, p.kind] + (["admin"] if p.is_admin else [])))

    @main.command()
    @click.argument("privilege")
    @click.argument("kind", type=click.Choice(["catalog", "schema", "volume", "table"]))
    @click.argument("name")
    @click.option("--to", "to", required=True, help="The principal receiving the privilege.")
    @click.pass_context
    @_edge
    def grant(ctx: click.Context, privilege: str, kind: str, name: str, to: str) -> None:
        """Grant PRIVILEGE on KIND NAME.

        Example: adseed grant "READ VOLUME" volume main.bricks.seeds --to ann
        """
        ws = _workspace(ctx)
        new = ws.governance.grant(ws.principal, privilege, kind, name, to)
        click.echo(
            f"granted {privilege.upper()} on {kind} {name} to {to}"
            + ("" if new else " (already held)")
        )

    @main.command()
    @click.argument("privilege")
    @click.argument("kind", type=click.Choice(["catalog", "schema", "volume", "table"]))
    @click.argument("name")
    @click.option("--from", "frm", required=True, help="The principal losing the privilege.")
    @click.pass_context
    @_edge
    def revoke(ctx: click.Context, privilege: str, kind: str, name: str, frm: str) -> None:
        """Revoke PRIVILEGE on KIND NAME from a principal; effective on its next request."""
        ws = _workspace(ctx)
        gone = ws.governance.revoke(ws.principal, privilege, kind, name, frm)
        click.echo(
            f"revoked {privilege.upper()} on {kind} {name} from {frm}"
            + ("" if gone else " (was not held)")
        )

    @main.command()
    @click.option("--principal", "who", default=None)
    @click.option("--on", "on", nargs=2, default=None, metavar="KIND NAME")
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_context
    @_edge
    def grants(
        ctx: click.Context, who: str | None, on: tuple[str, str] | None, as_json: bool
    ) -> None:
        """List grants (admins: all; owners: on what they own; others: their own)."""
        ws = _workspace(ctx)
        obj = Securable.parse(*on) if on else None
        for g in ws.governance.grants(ws.principal, who, obj):
            row = {
                "principal": g.principal,
                "privilege": g.privilege.value,
                "kind": g.securable.kind.value,
                "object": g.securable.name,
                "granted_by": g.granted_by,
            }
            click.echo(json.dumps(row) if as_json else "\t".join(row.values()))

    @main.group()
    def audit() -> None:
        """The hash-chained audit trail."""

    @audit.command("verify")
    @click.pass_context
    @_edge
    def audit_verify(ctx: click.Context) -> None:
        """Recompute the hash chain (admins only); exit 9 if a record was edited or removed."""
        ws = _workspace(ctx)
        ws.governance.require_admin(ws.principal, "audit verify")
        verdict = ws.governance.verify_audit()
        click.echo(verdict.summary())
        if not verdict.ok:
            ctx.exit(9)

    @audit.command("show")
    @click.option("--limit", type=int, default=20, show_default=True)
    @click.pass_context
    @_edge
    def audit_show(ctx: click.Context, limit: int) -> None:
        """The most recent audit records (admins only)."""
        ws = _workspace(ctx)
        ws.governance.require_admin(ws.principal, "audit show")
        for r in ws.governance.audit.records()[-limit:]:
            verdict = "ALLOW" if r["allowed"] else "DENY "
            when = f"{r['at']:%Y-%m-%d %H:%M:%S}"
            click.echo(
                f"{r['seq']:>6} {when} {verdict} {r['principal']} {r['action']} {r['object']}"
            )

"""Privilege matrix: 7 principals × 16 operations, grants at catalog, schema and volume level,
checked against a truth table written here; and revocation on the very next request."""

from __future__ import annotations

import pytest
from gov_helpers import Principals, seed_workspace

from adseed.errors import PermissionDenied
from adseed.workspace import Workspace

from conftest import make_png

SEEDS, BRAND, OTHER = "/Volumes/main/bricks/seeds", "/Volumes/main/bricks/brand", "/Volumes/main/other/photos"
PRINCIPALS = ("admin", "cat_reader", "schema_writer", "vol_reader", "no_use", "nobody", "svc")


def _sees(ws: Workspace, volume_path: str) -> None:
    """Search must return a hit from that volume, or the caller may not read it."""
    hits = [h.path for r in ws.search(["photo"], k=10) for h in r.hits]
    if not any(h.startswith(volume_path + "/") for h in hits):
        raise PermissionDenied("not visible in search")


OPERATIONS = {
    "read seeds file": lambda ws: ws.read_file(f"{SEEDS}/img0.png"),
    "read brand file": lambda ws: ws.read_file(f"{BRAND}/img0.png"),
    "read other file": lambda ws: ws.read_file(f"{OTHER}/img0.png"),
    "list seeds": lambda ws: ws.list_dir(SEEDS),
    "write seeds file": lambda ws: ws.write_file(f"{SEEDS}/new-{ws.principal.name}.png", make_png("x")),
    "write other file": lambda ws: ws.write_file(f"{OTHER}/new-{ws.principal.name}.png", make_png("y")),
    "delete seeds file": lambda ws: ws.delete_file(f"{SEEDS}/scratch-{ws.principal.name}.png"),
    "search sees seeds": lambda ws: _sees(ws, SEEDS),
    "search sees other": lambda ws: _sees(ws, OTHER),
    "select bricks assets": lambda ws: ws.read_table("main.bricks.assets"),
    "select other assets": lambda ws: ws.read_table("main.other.assets"),
    "modify: rm seeds asset": lambda ws: ws.remove([f"{SEEDS}/rm-{ws.principal.name}.png"]),
    "grant on seeds": lambda ws: ws.governance.grant(ws.principal, "READ VOLUME", "volume", "main.bricks.seeds", "nobody"),
    "grant on other": lambda ws: ws.governance.grant(ws.principal, "READ VOLUME", "volume", "main.other.photos", "nobody"),
    "index sync": lambda ws: ws.sync_index(),
    "add principal": lambda ws: ws.governance.add_principal(ws.principal, f"p-{ws.principal.name}", "user", False),
}

TRUTH = {
    "read seeds file": {"admin", "cat_reader", "schema_writer", "vol_reader"},
    "read brand file": {"admin", "cat_reader", "schema_writer"},
    "read other file": {"admin", "cat_reader", "svc"},
    "list seeds": {"admin", "cat_reader", "schema_writer", "vol_reader"},
    "write seeds file": {"admin", "schema_writer"},
    "write other file": {"admin", "svc"},
    "delete seeds file": {"admin", "schema_writer"},
    "search sees seeds": {"admin", "cat_reader", "schema_writer", "vol_reader"},
    "search sees other": {"admin", "cat_reader", "svc"},
    "select bricks assets": {"admin", "cat_reader", "schema_writer"},
    "select other assets": {"admin", "cat_reader", "svc"},
    "modify: rm seeds asset": {"admin", "schema_writer"},
    "grant on seeds": {"admin"},
    "grant on other": {"admin"},
    "index sync": {"admin"},
    "add principal": {"admin"},
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from adseed.config import resolve_settings

    tmp = tmp_path_factory.mktemp("matrix")
    settings = resolve_settings({"home": tmp / "ws", "embedder": "fake"}, env={})
    admin = seed_workspace(settings, tmp / "src")
    return admin, Principals(admin)


@pytest.mark.parametrize("who", PRINCIPALS)
def test_privilege_matrix(world, tmp_path, who: str) -> None:
    admin, principals = world
    ws = admin.as_token(principals.tokens[who])
    # what the destructive operations act on: a plain file and an asset of this principal's own
    admin.write_file(f"{SEEDS}/scratch-{ws.principal.name}.png", make_png("scratch"))
    (tmp_path / f"rm-{ws.principal.name}.png").write_bytes(make_png(f"rm {who}", color=(9, 9, 9)))
    assert admin.ingest([tmp_path], "main.bricks.seeds").ingested == 1
    got = set()
    for name, op in OPERATIONS.items():
        try:
            op(ws)
        except PermissionDenied:
            continue
        got.add(name)
    expected = {op for op, allowed in TRUTH.items() if who in allowed}
    assert got == expected, f"{who}: unexpected {sorted(got - expected)}, missing {sorted(expected - got)}"


def test_truth_table_covers_enough(world) -> None:
    assert len(OPERATIONS) >= 12 and len(PRINCIPALS) >= 5
    assert set(TRUTH) == set(OPERATIONS)


def test_revocation_takes_effect_on_the_next_request(world) -> None:
    admin, principals = world
    gov, me = admin.governance, admin.principal
    ws = admin.as_token(gov.add_principal(me, "late", "user", False))
    for privilege, kind, name in [("USE CATALOG", "catalog", "main"), ("USE SCHEMA", "schema", "main.bricks")]:
        gov.grant(me, privilege, kind, name, "late")
    with pytest.raises(PermissionDenied):
        ws.read_file(f"{SEEDS}/img0.png")
    gov.grant(me, "READ VOLUME", "volume", "main.bricks.seeds", "late")
    assert ws.read_file(f"{SEEDS}/img0.png")
    gov.revoke(me, "READ VOLUME", "volume", "main.bricks.seeds", "late")
    with pytest.raises(PermissionDenied):
        ws.read_file(f"{SEEDS}/img0.png")  # the same Workspace object, the very next call


def test_every_decision_is_audited(world) -> None:
    admin, principals = world
    before = len(admin.governance.audit.records())
    ws = admin.as_token(principals.tokens["vol_reader"])
    ws.read_file(f"{SEEDS}/img0.png")
    with pytest.raises(PermissionDenied):
        ws.read_file(f"{BRAND}/img0.png")
    records = admin.governance.audit.records()[before:]
    assert [(r["principal"], r["action"], r["object"], r["allowed"]) for r in records] == [
        ("vol_reader", "read file", f"{SEEDS}/img0.png", True),
        ("vol_reader", "read file", f"{BRAND}/img0.png", False),
    ]
    assert admin.governance.verify_audit().ok


def test_embed_covers_only_the_schemas_granted(tmp_path) -> None:
    from adseed.config import resolve_settings

    settings = resolve_settings({"home": tmp_path / "ws", "embedder": "fake"}, env={})
    admin = Workspace.init(settings, owner="admin")
    for volume in ("main.bricks.seeds", "main.other.photos"):
        src = tmp_path / volume
        src.mkdir()
        (src / "a.png").write_bytes(make_png(volume, color=(len(volume), 1, 1)))
        admin.ingest([src], volume)
    gov, me = admin.governance, admin.principal
    ws = admin.as_token(gov.add_principal(me, "embedder", "service", False))
    with pytest.raises(PermissionDenied):
        ws.embed()
    for privilege, kind, name in [("USE CATALOG", "catalog", "main"), ("USE SCHEMA", "schema", "main.bricks"),
                                  ("SELECT", "table", "main.bricks.assets"),
                                  ("MODIFY", "table", "main.bricks.asset_embeddings")]:  # fmt: skip
        gov.grant(me, privilege, kind, name, "embedder")
    assert ws.embed().embedded == 1
    rows = admin.tables.read("asset_embeddings", columns=["path"])["path"].to_pylist()
    assert rows == ["/Volumes/main/bricks/seeds/a.png"]


def test_stage_tables_are_governed_too(world) -> None:
    """Audiences and ad copy own tables of their own; a principal with no grant gets neither."""
    from adseed.audience import Audience

    admin, principals = world
    ws = admin.as_token(principals.tokens["nobody"])
    with pytest.raises(PermissionDenied):
        Audience.open(ws)
    brief = {"product": "Trail harness", "benefits": ["padded chest plate"], "audience": "hikers"}
    with pytest.raises(PermissionDenied):
        ws.write_copy(brief, placement="google-rsa")
    assert admin.write_copy(brief, placement="google-rsa")  # the owner may

"""A read-only principal's 200 write and delete attempts, and tamper detection in the audit trail."""

from __future__ import annotations

import http.client
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from deltalake import DeltaTable
from gov_helpers import running_server, seed_workspace

from adseed.cli import main
from adseed.config import resolve_settings
from adseed.errors import PermissionDenied

from conftest import make_png

SEEDS = "/Volumes/main/bricks/seeds"


@pytest.fixture
def world(tmp_path):
    settings = resolve_settings({"home": tmp_path / "ws", "embedder": "fake"}, env={})
    admin = seed_workspace(settings, tmp_path / "src")
    gov, me = admin.governance, admin.principal
    token = gov.add_principal(me, "reader", "user", False)
    for privilege, kind, name in [("USE CATALOG", "catalog", "main"), ("USE SCHEMA", "catalog", "main"),
                                  ("READ VOLUME", "catalog", "main"), ("SELECT", "catalog", "main")]:  # fmt: skip
        gov.grant(me, privilege, kind, name, "reader")
    return admin, token


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _versions(admin) -> dict[str, int]:
    return {name: admin.tables.version(name) for name in ("assets", "asset_embeddings")}


def test_read_only_principal_200_writes_all_denied_and_audited(world, tmp_path) -> None:
    admin, token = world
    reader = admin.as_token(token)
    src = tmp_path / "new"
    src.mkdir()
    (src / "new.png").write_bytes(make_png("new"))
    volumes_before, versions_before = _tree(admin.settings.volumes_root), _versions(admin)
    audit_before = len(admin.governance.audit.records())
    files = [f"{SEEDS}/img0.png", f"{SEEDS}/img1.png", "/Volumes/main/other/photos/img0.png", f"{SEEDS}/fresh.png"]
    attempts = [
        lambda i: reader.write_file(files[i % 4], b"overwrite"),
        lambda i: reader.delete_file(files[i % 4]),
        lambda i: reader.remove([files[i % 3]]),
        lambda i: reader.ingest([src], "main.bricks.seeds"),
        lambda i: reader.governance.grant(reader.principal, "WRITE VOLUME", "volume", "main.bricks.seeds", "reader"),
    ]
    denied = 0
    for i in range(150):
        with pytest.raises(PermissionDenied):
            attempts[i % len(attempts)](i)
        denied += 1
    runner = CliRunner()
    for i in range(25):
        args = ["files", "delete", files[i % 4]] if i % 2 else ["files", "put", str(src / "new.png"), files[i % 4]]
        result = runner.invoke(main, ["--home", str(admin.home), "--token", token, *args])
        assert result.exit_code == 8, result.output
        denied += 1
    with running_server(admin.settings) as port:
        for i in range(25):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            method = "PUT" if i % 2 else "DELETE"
            conn.request(method, f"/api/2.0/fs/files{files[i % 4]}", body=b"x" if method == "PUT" else None,
                         headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            response = conn.getresponse()
            assert response.status == 403 and response.read() == b'{"error_code":"PERMISSION_DENIED","message":"Permission denied."}'
            conn.close()
            denied += 1
    assert denied == 200
    assert _tree(admin.settings.volumes_root) == volumes_before
    assert _versions(admin) == versions_before
    new = admin.governance.audit.records()[audit_before:]
    refusals = [r for r in new if r["principal"] == "reader" and not r["allowed"]]
    assert len(refusals) == 200
    assert not [r for r in new if r["principal"] == "reader" and r["allowed"]]


def test_denial_body_does_not_reveal_existence(world) -> None:
    admin, _ = world
    token = admin.governance.add_principal(admin.principal, "stranger", "user", False)
    bodies = set()
    with running_server(admin.settings) as port:
        for path in (f"{SEEDS}/img0.png", f"{SEEDS}/no-such-file.png", "/Volumes/nope/nope/nope/x.png"):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", f"/api/2.0/fs/files{path}", headers={"Authorization": f"Bearer {token}"})
            response = conn.getresponse()
            bodies.add((response.status, response.read()))
            conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", f"/api/2.0/fs/files{SEEDS}/img0.png")
        response = conn.getresponse()
        assert response.status == 401 and response.getheader("WWW-Authenticate", "").startswith("Bearer")
        conn.close()
    assert len(bodies) == 1 and next(iter(bodies))[0] == 403


def _tamper(admin, predicate: str, updates: dict[str, str] | None = None) -> None:
    dt = DeltaTable(admin.tables.uri("audit"))
    if updates is None:
        dt.delete(predicate)
    else:
        dt.update(updates=updates, predicate=predicate)


@pytest.mark.parametrize(
    ("how", "predicate", "updates", "expect"),
    [
        ("edit a principal", "seq = 3", {"principal": "'mallory'"}, "record 3 was altered"),
        ("flip a denial", "seq = 2", {"allowed": "NOT allowed"}, "record 2 was altered"),
        ("remove a record", "seq = 4", None, "record 4 is missing"),
        ("remove the tail", "seq >= 6", None, "tail removed"),
    ],
)
def test_audit_verify_detects_tampering(world, how, predicate, updates, expect) -> None:
    admin, _ = world
    assert admin.governance.verify_audit().ok
    _tamper(admin, predicate, updates)
    verdict = admin.governance.verify_audit()
    assert not verdict.ok and any(expect in p for p in verdict.problems), (how, verdict.problems)
    result = CliRunner().invoke(main, ["--home", str(admin.home), "audit", "verify"])
    assert result.exit_code == 9 and "TAMPERED" in result.output


def test_audit_verify_passes_on_an_honest_trail(world) -> None:
    admin, _ = world
    result = CliRunner().invoke(main, ["--home", str(admin.home), "audit", "verify"])
    assert result.exit_code == 0 and "intact" in result.output
    assert os.stat(admin.home / ".owner-token").st_mode & 0o077 == 0  # owner token is private


def test_journal_survives_a_torn_line_and_a_half_done_flush(world, monkeypatch) -> None:
    admin, _ = world
    log = admin.governance.audit
    log.record("x", "a", "o", True)
    with open(log.journal, "ab") as fh:
        fh.write(b'{"seq": 99, "torn')  # a crash in the middle of a write
    log.record("x", "b", "o", False)
    real_truncate = os.truncate
    monkeypatch.setattr(os, "truncate", lambda *a: (_ for _ in ()).throw(OSError("crash")))
    with pytest.raises(OSError):
        log.flush()  # rows reached Delta, the journal was not emptied
    monkeypatch.setattr(os, "truncate", real_truncate)
    records = log.records()
    seqs = [r["seq"] for r in records]
    assert seqs == list(range(len(seqs)))  # no duplicates, no gap
    assert [r["action"] for r in records[-2:]] == ["a", "b"]
    assert log.verify().ok

"""``adseed copy`` as a subprocess: output, exit codes, and the chat writer through the stub."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stubs.chat_stub import serve

pytestmark = pytest.mark.e2e
ADSEED = Path(sys.executable).with_name("adseed")
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
HARNESS = str(EXAMPLES / "brief-trail-harness.yaml")
FIELDS = {"variant", "headline", "title", "description", "cta", "image_suggestion"}


def run(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ADSEED_")}
    return subprocess.run([str(ADSEED), "--home", str(home), *args], env={**clean, **env},
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    assert run(tmp_path / "ws", "init").returncode == 0
    return tmp_path / "ws"


def test_json_output_for_every_placement_of_the_brief(home: Path) -> None:
    out = run(home, "copy", HARNESS, "--json")
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["placement"] for r in lines] == ["meta-feed", "story", "google-rsa", "display"]
    for result in lines:
        assert result["writer"] == "template:v1" and not result["reused"]
        assert [v["variant"] for v in result["variants"]] == [0, 1, 2]
        assert all(set(v) >= FIELDS for v in result["variants"])
    assert lines[3]["variants"][0]["business_name"] == "Northpaw Outfitters"
    again = run(home, "copy", HARNESS, "--json", "--placement", "story")
    assert json.loads(again.stdout)["reused"] is True
    assert json.loads(again.stdout)["variants"] == lines[1]["variants"]


def test_options_and_human_output(home: Path) -> None:
    out = run(home, "copy", str(EXAMPLES / "brief-cat-fountain.json"), "--placement",
              "google-rsa", "--variants", "2", "--seed", "4")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("# google-rsa · template:v1 · seed 4 · brief ")
    assert out.stdout.count("headline: ") == 2 and "[2] headline: " in out.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"benefits": ["x"]}', "missing required field 'product'"),
        ('{"product": "x", "benefits": ["y"], "placements": ["tiktok"]}',
         "unknown placement 'tiktok'"),
        ('{"product": 1, "benefits": ["y"]}', "'product' must be a string"),
    ],
)
def test_bad_briefs_exit_2_with_one_line(home: Path, tmp_path: Path, content: str,
                                         message: str) -> None:
    brief = tmp_path / "bad.json"
    brief.write_text(content)
    out = run(home, "copy", str(brief))
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and message in out.stderr


def test_unknown_placement_flag_and_variants_range(home: Path) -> None:
    assert run(home, "copy", HARNESS, "--placement", "tiktok").returncode == 2
    assert run(home, "copy", HARNESS, "--variants", "11").returncode == 2


def test_not_initialised_is_a_state_error(tmp_path: Path) -> None:
    out = run(tmp_path / "nothing", "copy", HARNESS)
    assert out.returncode == 6 and "adseed init" in out.stderr


def test_the_chat_writer_through_the_stub(home: Path) -> None:
    with serve(api_key="sk-e2e") as stub:
        env = {"ADSEED_COPY_WRITER": "openai", "ADSEED_COPY_BASE_URL": stub.base_url,
               "ADSEED_COPY_API_KEY": "sk-e2e", "ADSEED_COPY_MODEL": "stub-model"}
        stub.script = ["missing_field", "ok"]
        out = run(home, "copy", HARNESS, "--placement", "story", "--json", **env)
        assert out.returncode == 0, out.stderr
        result = json.loads(out.stdout)
        assert result["writer"] == "openai:stub-model" and len(stub.requests) == 2
        assert run(home, "copy", HARNESS, "--placement", "story", **env).returncode == 0
        assert len(stub.requests) == 2  # the same run again comes from the table
        stub.script = ["status:503"] * 10
        failed = run(home, "copy", HARNESS, "--placement", "google-rsa", **env,
                     ADSEED_COPY_HTTP_RETRIES="1")
        assert failed.returncode == 5 and "HTTP 503" in failed.stderr

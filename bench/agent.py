"""Agent turn latency without generation or chat model; image-gen endpoint throughput.

    python bench/agent.py [--conversations 60] [--photos 200] [--pause 0.25]
                          [--clients 8] [--seconds 20]

1. p50/p99 of one agent turn through ``AdAgent.predict`` (the ResponsesAgent the
   endpoint calls): session load and save (SQLite), the policy step, the tool call with
   ``generate=false`` (so the top-3 retrieval, text encoder included, or its cached
   three), the MLflow spans, and the Responses JSON serialisation. The chat model is
   the keyword fake (microseconds), so the language model's time is excluded; no ad is
   generated. Target: p99 ≤ 50 ms, every turn an MLflow trace. Turns with a vector
   query and turns that reuse the remembered three are also shown apart.

   Each message is sent ``--pause`` seconds after the previous answer (a marketer
   reads and types for seconds); that is when MLflow exports the previous turn's
   trace, in the background. The same turns are also run back to back (``pause 0``):
   then every turn shares the 2 cores with the export of the turns before it (~25 ms
   of CPU each in MLflow's SQLite store), so that row is the saturated case, and the
   turns/s it sustains are printed with it.
2. requests/s that ``POST /serving-endpoints/image-gen/invocations`` with
   ``generate=true`` (the compositor) holds under 8 concurrent clients, with the error
   count. Needs issue 4's generation service; says so and skips when it is absent.

Seeds are the pets of ../shared/datasets with the conse embedder (fake embedder and
synthetic PNGs when the catalogue is absent).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import itertools
import json
import random
import sys
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from _common import DATASETS, cores, labelled_rows, scratch_workspace

PROPOSALS = itertools.count(1)  # across runs: no run reuses another's remembered three
SCRIPTS = [
    ["dog owners who love parks", "yes", "no", "no", "no", "no"],
    ["cat people who love the snow", "yes", "not this", "yes"],
    ["families with a playful dog", "yes", "no", "ok"],
]


def service_tool():
    """The generation service through the agent's adapter, with generation switched off:
    the turn is measured without generation (the issue's definition), retrieval included."""
    from adseed.agent.tools import generate_ad_image

    def retrieval_only(ws, prompt, seed_index, generate, brand=None, **words):
        return generate_ad_image(ws, prompt, seed_index, False, brand, **words)

    return retrieval_only, "generation service, generate forced off (retrieval only)"


def fill(ws, tmp: Path, photos: int) -> str:
    src = tmp / "seeds"
    src.mkdir()
    if (DATASETS / "labels.csv").is_file():
        rows = [r for r in labelled_rows(("pet",))]
        random.Random(0).shuffle(rows)
        for i, row in enumerate(rows[:photos]):
            (src / f"p{i:04d}.jpg").write_bytes((DATASETS / row["path"]).read_bytes())
        what = f"{min(photos, len(rows))} real pet photos, conse"
    else:
        for i in range(photos):
            buf = io.BytesIO()
            Image.new("RGB", (64, 48), (i % 255, 80, 40)).save(buf, format="PNG")
            (src / f"p{i:04d}.png").write_bytes(buf.getvalue())
        what = f"{photos} synthetic PNGs, fake embedder"
    ws.ingest([src], "main.bricks.seeds", kind="seed")
    brand = tmp / "brand"
    brand.mkdir()
    packs = sorted((DATASETS / "products").glob("*.jpg"))[:1]
    if packs:
        (brand / "pack.jpg").write_bytes(packs[0].read_bytes())
    else:
        Image.new("RGB", (300, 400), (200, 30, 30)).save(brand / "pack.png")
    ws.ingest([brand], "main.bricks.brand", kind="brand")
    ws.embed()
    ws.sync_index()
    return what


def turn_latency(ws, conversations: int, traced: bool, pause: float) -> None:
    import mlflow
    from mlflow.types.responses import ResponsesAgentRequest

    from adseed.agent.fake import FakeChatModel
    from adseed.agent.responses_agent import AdAgent

    class BenchChatModel(FakeChatModel):
        """The keyword fake, with a new description per proposal: every accepted idea
        is a fresh vector query, as with real marketers, instead of a remembered one."""

        def propose(self, brief):
            p = super().propose(brief)
            return p and dataclasses.replace(p, description=f"{p.prompt} {next(PROPOSALS)}")

    tool, label = service_tool()
    agent = AdAgent(ws, chat_model=BenchChatModel(), tool=tool)
    agent.agent  # noqa: B018  (builds the agent, and points MLflow at the workspace store)
    if not traced:
        mlflow.tracing.disable()
    times: dict[str, list[float]] = {"query": [], "cached": [], "no tool": []}
    wall = time.perf_counter()
    for n in range(conversations):
        for text in SCRIPTS[n % len(SCRIPTS)]:
            request = {"input": [{"role": "user", "content": text}],
                       "custom_inputs": {"session_id": f"bench-{traced}-{pause}-{n}"}}  # own sessions
            start = time.perf_counter()
            response = agent.predict(ResponsesAgentRequest.model_validate(request))
            json.dumps(response.model_dump(exclude_none=True))
            elapsed = time.perf_counter() - start
            calls = [i for i in response.output if i.type == "function_call"]
            args = json.loads(calls[0].arguments) if calls else None
            kind = "no tool" if args is None else ("query" if args["seed_index"] == 0 else "cached")
            # seed_index 0 follows a new description: a vector query; 1 and 2 reuse the three
            times[kind].append(elapsed)
            time.sleep(pause)  # the marketer reads the answer: not part of the turn
    wall = time.perf_counter() - wall
    mlflow.flush_trace_async_logging()
    mlflow.tracing.enable()
    every = np.array([t for ts in times.values() for t in ts]) * 1000
    if not traced:
        print(f"tool: {label}")
    title = "one agent turn, " + ("MLflow-traced" if traced else "tracing off")
    title += f", {pause * 1000:.0f} ms pause" if pause else ", back to back"
    print(f"{title:<46} {'turns':>6} {'p50 ms':>8} {'p99 ms':>8}")
    print(f"{'  all turns':<46} {len(every):>6} {np.percentile(every, 50):>8.1f} {np.percentile(every, 99):>8.1f}")
    for kind, ts in times.items():
        a = np.array(ts) * 1000
        print(f"{'  ' + kind:<46} {len(a):>6} {np.percentile(a, 50):>8.1f} {np.percentile(a, 99):>8.1f}")
    met = "met" if np.percentile(every, 99) <= 50 else "NOT met"
    if pause:
        print(f"target p99 <= 50 ms ({'traced' if traced else 'untraced'}, paced): {met}")
    else:
        print(f"back to back (saturated): p99 <= 50 ms {met}; {len(every) / wall:.0f} turns/s "
              "sustained, exports included")


def bare_search(ws, n: int = 80) -> None:
    """The governed top-3 search alone, for unique prompts: what a 'query' turn contains."""
    times = []
    for i in range(n):
        start = time.perf_counter()
        ws.search([f"a dog in a park {10_000 + i}"], k=3, kind="seed")
        times.append((time.perf_counter() - start) * 1000)
    a = np.array(times)
    print(f"{'  governed search alone (same run)':<46} {n:>6} {np.percentile(a, 50):>8.1f} {np.percentile(a, 99):>8.1f}")


def throughput(settings, token: str, clients: int, seconds: float) -> None:
    import httpx
    import uvicorn

    from adseed.serve.app import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    prompts = [s[0] for s in SCRIPTS]
    done, errors, lock = [0], [0], threading.Lock()
    stop = time.monotonic() + seconds

    def client(i: int) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            n = 0
            while time.monotonic() < stop:
                body = {"dataframe_split": {"columns": ["model_input"], "data": [[prompts[(i + n) % 3]]]},
                        "params": {"generate": True, "seed_index": (i + n) % 3}}
                r = http.post("/serving-endpoints/image-gen/invocations", json=body)
                with lock:
                    done[0] += r.status_code == 200
                    errors[0] += r.status_code != 200
                n += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - start
    server.should_exit = True
    import mlflow

    mlflow.flush_trace_async_logging()  # the requests' traces, before the workspace goes
    print(f"image-gen, generate=true, {clients} clients, {wall:.0f} s: "
          f"{done[0] / wall:.1f} requests/s, {errors[0]} errors")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=60)
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--pause", type=float, default=0.25, help="seconds between an answer and the next message")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    embedder = "conse" if (DATASETS / "labels.csv").is_file() else "fake"
    with scratch_workspace(embedder=embedder) as (ws, tmp):
        what = fill(ws, tmp, args.photos)
        print(f"# bench/agent.py on {cores()}; seeds: {what}", file=sys.stderr)
        ws.search(["warm up"], k=3, kind="seed")  # the text encoder loads on its first query
        turn_latency(ws, args.conversations, traced=False, pause=args.pause)
        turn_latency(ws, args.conversations, traced=True, pause=args.pause)
        turn_latency(ws, args.conversations, traced=True, pause=0)
        bare_search(ws)
        token = (ws.home / ".owner-token").read_text().strip()
        throughput(ws.settings, token, args.clients, args.seconds)


if __name__ == "__main__":
    main()

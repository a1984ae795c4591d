"""Query-language benchmark: builds a building-shaped twin graph directly in a GraphIndex and
times the queries the targets are written against.

Graph: one site -> buildings -> 10 floors each -> 25 rooms each -> 3 sensors + 1 piece of
equipment per room (1,261 twins per building; about one relationship per twin).

Measured (median of repeated runs, first-page latency with the default page size of 100):

* ``model_prop``: ``SELECT * ... WHERE IS_OF_MODEL(Room) AND T.status = 'ok'`` (target
  <= 50 ms at 1M twins); its first run (which builds the property index) is reported apart;
* ``model_prop_count``: the same as ``SELECT COUNT()``;
* ``match3``: ``MATCH (a)-[*3]->(b) WHERE a.$dtId = '<building>'`` (target <= 20 ms);
* ``match3_all_pages``: every page of that MATCH;
* ``or_indexed_count``: ``COUNT()`` of ``T.area > 95 OR T.status = 'fault'`` (two indexes);
* ``scan``: ``COUNT()`` of ``NOT T.status = 'ok'``, which no index answers (full scan);
* build time, and memory: tracemalloc on a build of at most 100k twins, extrapolated
  linearly to the full size, plus the process's peak RSS.

After building, the graph is ``gc.freeze()``-d so that full garbage collections do not rescan
millions of twin documents during queries; ``--no-freeze`` measures without it (so far the
difference has not been consistent, see docs/benchmarks.md).

Usage (from the repo root): ``python bench/query.py [--quick | --full] [--twins N]``.
The last line of stdout is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from twinsight.graph.index import GraphIndex
from twinsight.graph.query import explain, run_query

SITE, BUILDING, FLOOR = "dtmi:bench:Site;1", "dtmi:bench:Building;1", "dtmi:bench:Floor;1"
SPACE, ROOM = "dtmi:bench:Space;1", "dtmi:bench:Room;1"
SENSOR, EQUIPMENT = "dtmi:bench:Sensor;1", "dtmi:bench:Equipment;1"
PER_BUILDING = 1 + 10 + 250 + 1000

HIERARCHY = {SPACE: frozenset({SPACE, SITE, BUILDING, FLOOR, ROOM})}


def descendants(model: str) -> frozenset[str]:
    return HIERARCHY.get(model, frozenset({model}))


def _twin(twin_id: str, model: str, seq: int, **props: Any) -> dict[str, Any]:
    stamp = f"2026-11-22T04:{seq % 60:02d}:{seq % 59:02d}.{seq % 9973:07d}Z"
    meta: dict[str, Any] = {"$model": model, "$lastUpdateTime": stamp}
    for key, value in props.items():
        if not isinstance(value, dict):
            meta[key] = {"lastUpdateTime": stamp}
    return {"$dtId": twin_id, "$etag": f'W/"{seq:08x}-bench"', "$metadata": meta, **props}


def _rel(source: str, name: str, target: str) -> dict[str, Any]:
    return {
        "$relationshipId": f"{source}-{name}-{target}",
        "$etag": 'W/"r"',
        "$sourceId": source,
        "$relationshipName": name,
        "$targetId": target,
    }


def build(twins: int) -> tuple[GraphIndex, int]:
    """A graph of about ``twins`` twins; returns it and the number of buildings."""
    g = GraphIndex(descendants)
    buildings = max(1, round((twins - 1) / PER_BUILDING))
    seq = 0
    g.put_twin(_twin("site", SITE, seq, name="Campus"))
    for b in range(buildings):
        bid = f"bld{b:04d}"
        seq += 1
        g.put_twin(_twin(bid, BUILDING, seq, name=f"Building {b}", floors=10))
        g.put_relationship(_rel("site", "contains", bid))
        for f in range(10):
            fid = f"{bid}-fl{f:02d}"
            seq += 1
            g.put_twin(_twin(fid, FLOOR, seq, level=f))
            g.put_relationship(_rel(bid, "contains", fid))
            for r in range(25):
                rid = f"{fid}-rm{r:02d}"
                seq += 1
                status = "ok" if seq % 10 else ("warn" if seq % 20 else "fault")
                g.put_twin(
                    _twin(
                        rid,
                        ROOM,
                        seq,
                        temperature=18 + (seq % 80) / 10,
                        status=status,
                        area=10 + seq % 90,
                        thermostat={"$metadata": {}, "setPoint": 21, "mode": "auto"},
                    )
                )
                g.put_relationship(_rel(fid, "contains", rid))
                for s in range(3):
                    sid = f"{rid}-s{s}"
                    seq += 1
                    g.put_twin(_twin(sid, SENSOR, seq, value=seq % 100, unit="C"))
                    g.put_relationship(_rel(rid, "hasSensor", sid))
                eid = f"{rid}-eq"
                seq += 1
                g.put_twin(_twin(eid, EQUIPMENT, seq, running=bool(seq % 2)))
                g.put_relationship(_rel(rid, "hasEquipment", eid))
    return g, buildings


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, list[float], Any]:
    """Median and all timings in ms, and the last result."""
    times: list[float] = []
    result: Any = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), times, result


def all_pages(text: str, g: GraphIndex) -> int:
    n, token = 0, None
    while True:
        page = run_query(text, g, continuation=token)
        n += len(page.items)
        token = page.continuation
        if token is None:
            return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="20k twins, few repeats (< 1 min)")
    size.add_argument("--full", action="store_true", help="1,000,000 twins")
    parser.add_argument("--twins", type=int, help="explicit graph size")
    parser.add_argument("--repeats", type=int, help="timed runs per query")
    parser.add_argument(
        "--no-freeze", action="store_true", help="skip gc.freeze() after building the graph"
    )
    args = parser.parse_args()
    twins = args.twins or (20_000 if args.quick else 1_000_000 if args.full else 100_000)
    repeats = args.repeats or (5 if args.quick else 15)

    # memory: tracemalloc on a build of at most 100k twins, extrapolated per twin
    mem_twins = min(twins, 100_000)
    gc.collect()
    tracemalloc.start()
    small, _ = build(mem_twins)
    traced, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    per_twin = traced / small.twin_count
    del small
    gc.collect()

    start = time.perf_counter()
    g, buildings = build(twins)
    build_s = time.perf_counter() - start
    if not args.no_freeze:
        # move the long-lived twin documents out of the collector's view so full
        # collections do not rescan them during the timed queries
        gc.collect()
        gc.freeze()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"graph: {g.twin_count} twins, {g.relationship_count} relationships, "
        f"{buildings} buildings, built in {build_s:.1f}s",
        flush=True,
    )

    model_prop = (
        "SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL('dtmi:bench:Room;1') AND T.status = 'ok'"
    )
    model_prop_count = model_prop.replace("SELECT *", "SELECT COUNT()")
    anchor = f"bld{buildings // 2:04d}"
    match3 = f"SELECT b FROM DIGITALTWINS MATCH (a)-[*3]->(b) WHERE a.$dtId = '{anchor}'"
    or_indexed = "SELECT COUNT() FROM DIGITALTWINS T WHERE T.area > 95 OR T.status = 'fault'"
    scan = "SELECT COUNT() FROM DIGITALTWINS T WHERE NOT T.status = 'ok'"

    first_ms, _, _ = timed(lambda: run_query(model_prop, g), 1)
    figures: dict[str, Any] = {"model_prop_first_run_ms": round(first_ms, 2)}
    for name, fn, reps in [
        ("model_prop", lambda: run_query(model_prop, g), repeats),
        ("model_prop_count", lambda: run_query(model_prop_count, g), repeats),
        ("match3", lambda: run_query(match3, g), repeats),
        ("match3_all_pages", lambda: all_pages(match3, g), max(3, repeats // 3)),
        ("or_indexed_count", lambda: run_query(or_indexed, g), repeats),
        ("scan", lambda: run_query(scan, g), max(3, repeats // 5)),
    ]:
        median, times, result = timed(fn, reps)
        figures[f"{name}_ms"] = round(median, 2)
        detail = (
            f"{len(result.items)} items"
            if hasattr(result, "items") and not isinstance(result, int)
            else f"{result} items"
        )
        print(
            f"{name:18s} median {median:8.2f} ms  min {min(times):8.2f}  max {max(times):8.2f}"
            f"  ({detail})",
            flush=True,
        )
    print("plan model_prop:", explain(model_prop, g))
    print("plan match3:   ", explain(match3, g))
    print("plan or:       ", explain(or_indexed, g))
    print("plan scan:     ", explain(scan, g))
    counts = {
        "rooms_ok": run_query(model_prop_count, g).items[0]["COUNT"],
        "match3_rows": all_pages(match3, g),
    }
    result = {
        "bench": "query",
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "twins": g.twin_count,
        "relationships": g.relationship_count,
        "repeats": repeats,
        "gc_freeze": not args.no_freeze,
        "build_s": round(build_s, 2),
        "tracemalloc_twins": mem_twins,
        "tracemalloc_bytes_per_twin": round(per_twin),
        "memory_extrapolated_1m_mb": round(per_twin * 1_000_000 / 2**20),
        "memory_extrapolated_mb": round(per_twin * g.twin_count / 2**20),
        "peak_rss_mb": round(rss_mb),
        **counts,
        **figures,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

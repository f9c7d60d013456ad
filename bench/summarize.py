#!/usr/bin/env python3
"""Summarise bench/durable.sh results: median and spread per broker, mode
and publisher count, and the ratios at the largest publisher count.

    bench/summarize.py bench/results/durable-*.jsonl [--max-other PCT]

--max-other drops runs during which other processes used more than PCT
percent of one core (the "machine.other_pct" that benchdurable measures).
"""
import argparse
import json
import statistics
from collections import defaultdict

ap = argparse.ArgumentParser()
ap.add_argument("files", nargs="+")
ap.add_argument("--max-other", type=float, default=None)
args = ap.parse_args()

runs = defaultdict(list)
dropped = 0
for path in args.files:
    for line in open(path):
        line = line.strip()
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        kind, mode, pubs, _ = r["label"].split("/")
        other = r.get("machine", {}).get("other_pct", 0.0)
        if args.max_other is not None and other > args.max_other:
            dropped += 1
            continue
        runs[(mode, int(pubs[1:]), kind)].append(r)

def med(xs):
    return statistics.median(xs) if xs else float("nan")

print("| mode | publishers | broker | rounds | msgs/s median | min..max | ack p50 ms | ack p99 ms | broker CPU % | bench CPU % | other % | broker RSS MB | offline drained/missing |")
print("|---|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---|")
medians = {}
order = {"baram-pebble": 0, "baram-memory": 1, "mosquitto": 2, "mosquitto-nodelay": 3}
for key in sorted(runs, key=lambda k: (k[0], k[1], order.get(k[2], 9))):
    rs = runs[key]
    rates = [r["pub"]["msgs_per_s"] for r in rs]
    medians[key] = med(rates)
    p50 = med([r["pub"]["latency"]["p50_ms"] for r in rs])
    p99 = med([r["pub"]["latency"]["p99_ms"] for r in rs])
    bcpu = med([r.get("broker", {}).get("cpu_pct", 0) for r in rs])
    ccpu = med([r["bench"]["cpu_pct"] for r in rs])
    other = med([r.get("machine", {}).get("other_pct", 0) for r in rs])
    rss = med([r.get("broker", {}).get("rss_mb", 0) for r in rs])
    off = ""
    if key[0] == "offline":
        missing = sum((r.get("offline") or {}).get("missing") or 0 for r in rs)
        drained = [((r.get("offline") or {}).get("drained") or {}).get("unique", 0) == r["pub"]["acked"] for r in rs]
        off = f"{sum(drained)}/{len(rs)} complete, {missing} missing"
    print(f"| {key[0]} | {key[1]} | {key[2]} | {len(rs)} | {medians[key]:,.0f} | {min(rates):,.0f}..{max(rates):,.0f} "
          f"| {p50:.2f} | {p99:.2f} | {bcpu:.0f} | {ccpu:.0f} | {other:.0f} | {rss:.0f} | {off} |")
if dropped:
    print(f"\n({dropped} runs dropped for other processes above {args.max_other}% of a core)")

print()
for mode in ("nosub", "offline"):
    pubs = sorted({k[1] for k in medians if k[0] == mode})
    for p in pubs:
        get = lambda kind: medians.get((mode, p, kind))
        bp, bm = get("baram-pebble"), get("baram-memory")
        parts = []
        for mq_kind in ("mosquitto", "mosquitto-nodelay"):
            mq = get(mq_kind)
            if bp and mq:
                parts.append(f"baram-pebble/{mq_kind} {bp / mq:.2f}")
            if bm and mq:
                parts.append(f"baram-memory/{mq_kind} {bm / mq:.2f}")
        if bp and bm:
            parts.append(f"baram-pebble/baram-memory {bp / bm:.2f}")
        print(f"- {mode}, {p} publishers: " + ", ".join(parts))

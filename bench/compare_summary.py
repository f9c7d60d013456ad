#!/usr/bin/env python3
"""Turn bench/compare.sh results (JSON lines) into the markdown tables of
docs/benchmarks.md: the goals of issue 6 (met or not), then one table per
scenario with the median of the rounds and the spread (min..max).

    bench/compare_summary.py bench/results/compare-*.jsonl [--since 2026-11-26T01:45:00Z] [--commit abc1234]

RSS per idle connection is (RssAnon at the end of the hold - RssAnon of
the idle broker before the run) / connections, from the samples that
compare.sh takes every 0.5 s: the last sample at least HOLD_MARGIN seconds
before the hold ends (the load tool then pings every connection, which
wakes them all).
"""
import argparse
import json
import statistics
from collections import defaultdict

HOLD_MARGIN = 2.0
PEERS = ["mosquitto", "mochi"]
ORDER = ["baram", "mosquitto", "mosquitto-nodelay", "mochi"]

ap = argparse.ArgumentParser()
ap.add_argument("files", nargs="+")
ap.add_argument("--since", help="only runs at or after this UTC time (2026-11-26T01:45:00Z)")
ap.add_argument("--commit", help="only runs of baram built from this commit")
args = ap.parse_args()

runs = defaultdict(dict)  # (scenario, limits) -> broker -> [record]
meta = {"commits": set(), "loads": [], "others": [], "times": []}
for path in args.files:
    for line in open(path):
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        if args.since and r["time"] < args.since:
            continue
        if args.commit and r["commit"] != args.commit:
            continue
        if not r.get("bench"):
            continue
        runs[(r["scenario"], r["limits"])].setdefault(r["broker"], []).append(r)
        meta["commits"].add(r["commit"] + ("+dirty" if r.get("dirty") else ""))
        meta["loads"].append(float(r["machine"]["loadavg_start"].split()[0]))
        if r["machine"].get("other_pct") is not None:
            meta["others"].append(r["machine"]["other_pct"])  # corrected below
        meta["times"].append(r["time"])


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def spread(xs, fmt):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "-"
    if len(xs) == 1:
        return fmt(xs[0])
    return f"{fmt(med(xs))} ({fmt(min(xs))}..{fmt(max(xs))})"


def n0(x):
    return "-" if x is None else f"{x:,.0f}"


def n1(x):
    return "-" if x is None else f"{x:,.1f}"


def n2(x):
    return "-" if x is None else f"{x:,.2f}"


def ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b else "-"


def brokers(group):
    return sorted(group, key=lambda b: ORDER.index(b) if b in ORDER else 99)


# ---- per-run metrics -------------------------------------------------------

def delivered(r):
    return r["bench"].get("msgs_per_s")


def published(r):
    return r["bench"].get("sent_per_s")


def per_cpu(r):
    b = r["bench"]
    cpu = r["proc"].get("cpu_s")
    msgs = b.get("unique", 0) + b.get("duplicates", 0) if b.get("subscribers") else b.get("acked", 0)
    return msgs / cpu if cpu else None


def lat(r, q, key="latency"):
    return (r["bench"].get(key) or {}).get(q)


def hwm_mb(r):
    return (r["proc"].get("hwm_kb") or 0) / 1024


def idle_rss(r):
    """(KB per connection, loaded RssAnon MB, idle RssAnon MB)"""
    c = r["bench"]["conn"]
    samples = r.get("samples") or []
    if not samples or not c.get("connected"):
        return None, None, None
    t0 = samples[0][0]
    end = t0 + c["connect_s"] + c["held_s"] - HOLD_MARGIN
    before_end = [s for s in samples if s[0] <= end]
    if not before_end:
        return None, None, None
    loaded = before_end[-1][1]
    idle = r["proc"]["rss_anon_start_kb"]
    return (loaded - idle) * 1024 / c["connected"] / 1000, loaded / 1024, idle / 1024


def conn_rate(r):
    return r["bench"]["conn"].get("connects_per_s")


def dur_pub(r):
    return r["bench"]["pub"].get("msgs_per_s")


def dur_drain(r):
    return ((r["bench"].get("offline") or {}).get("drained") or {}).get("msgs_per_s")


def dur_rss(r):
    """(peak RssAnon MB while publishing, peak RssAnon MB over the run)"""
    samples = r.get("samples") or []
    if not samples:
        return None, None
    end = samples[0][0] + r["bench"]["pub"]["elapsed_s"] + 0.5
    pub = [s[1] for s in samples if s[0] <= end] or [0]
    return max(pub) / 1024, max(s[1] for s in samples) / 1024


def other(r):
    """other processes' CPU over the run, % of one core (older lines of
    durable runs did not subtract benchdurable's own CPU)"""
    o = r["machine"].get("other_pct")
    b = r["bench"]
    if o is not None and "bench_cpu_s" not in b and r.get("wall_s"):
        o -= 100 * ((b.get("bench") or {}).get("cpu_s") or 0) / r["wall_s"]
    return o


def m(group, broker, fn):
    return med([fn(r) for r in group.get(broker, [])])


# ---- the goals of issue 6 --------------------------------------------------

def goal_rows():
    rows = []

    def throughput(scen, label, per_cpu_goal):
        g = runs.get((scen, "raised"))
        if not g or "baram" not in g:
            rows.append((label, "", "not measured", "-"))
            return
        b, mo, mc = m(g, "baram", delivered), m(g, "mosquitto", delivered), m(g, "mochi", delivered)
        ok = b is not None and mo is not None and b >= 2 * mo and (mc is None or b > mc)
        res = f"baram {n0(b)} msgs/s; {ratio(b, mo)}x Mosquitto ({n0(mo)}), {ratio(b, mc)}x mochi ({n0(mc)})"
        goal = "≥ 2x Mosquitto msgs/s, ahead of every peer"
        if per_cpu_goal:
            pb, pmo, pmc = m(g, "baram", per_cpu), m(g, "mosquitto", per_cpu), m(g, "mochi", per_cpu)
            ok2 = pb is not None and all(x is None or pb > x for x in (pmo, pmc))
            res += (f"; per broker CPU-s: baram {n0(pb)}, Mosquitto {n0(pmo)} ({ratio(pb, pmo)}x), "
                    f"mochi {n0(pmc)} ({ratio(pb, pmc)}x)")
            goal = "≥ 2x Mosquitto msgs/s; more msgs per CPU-s than every peer"
            ok = ok and ok2
        rows.append((label, goal, res, "**met**" if ok else "**not met**"))

    throughput("fanin-q0", "fanin 100 -> 1, QoS 0", True)
    throughput("fanin-q1", "fanin 100 -> 1, QoS 1", True)
    for n in (100, 1000):
        for q in (0, 1):
            throughput(f"fanout{n}-q{q}", f"fanout 1 -> {n}, QoS {q}", False)
    throughput("pairs-q0", "pairs 500, QoS 0", False)
    throughput("pairs-q1", "pairs 500, QoS 1", False)
    for q in (0, 1):
        g = runs.get((f"latency-q{q}", "raised"))
        if not g or "baram" not in g:
            rows.append((f"latency 10k msgs/s, QoS {q}", "", "not measured", "-"))
            continue
        b = m(g, "baram", lambda r: lat(r, "p99_ms"))
        mo = m(g, "mosquitto", lambda r: lat(r, "p99_ms"))
        nd = m(g, "mosquitto-nodelay", lambda r: lat(r, "p99_ms"))
        mc = m(g, "mochi", lambda r: lat(r, "p99_ms"))
        ok = b is not None and mo is not None and b < mo
        res = f"p99 baram {n2(b)} ms, Mosquitto {n2(mo)} ms"
        if nd is not None:
            res += f" (with set_tcp_nodelay: {n2(nd)} ms)"
            ok_nd = b < nd
        res += f", mochi {n2(mc)} ms"
        verdict = "**met**" if ok else "**not met**"
        if nd is not None and ok != ok_nd:
            verdict += " (" + ("met" if ok_nd else "not met") + " against set_tcp_nodelay)"
        rows.append((f"latency 10k msgs/s, QoS {q}", "p99 below Mosquitto's", res, verdict))
    g = runs.get(("idle", "raised"))
    if g and "baram" in g:
        kb = m(g, "baram", lambda r: idle_rss(r)[0])
        kmo = m(g, "mosquitto", lambda r: idle_rss(r)[0])
        kmc = m(g, "mochi", lambda r: idle_rss(r)[0])
        cr, cmo, cmc = m(g, "baram", conn_rate), m(g, "mosquitto", conn_rate), m(g, "mochi", conn_rate)
        n = g["baram"][0]["bench"]["conn"]["clients"]
        rows.append((f"{n:,} idle connections: memory", "≤ 4 KB RSS per connection",
                     f"baram {n2(kb)} KB, Mosquitto {n2(kmo)} KB, mochi {n2(kmc)} KB",
                     "**met**" if kb is not None and kb <= 4 else "**not met**"))
        rows.append((f"{n:,} idle connections: connect rate", "connects/s ≥ Mosquitto's",
                     f"baram {n0(cr)}/s, Mosquitto {n0(cmo)}/s ({ratio(cr, cmo)}x), mochi {n0(cmc)}/s",
                     "**met**" if cr is not None and cmo is not None and cr >= cmo else "**not met**"))
    else:
        rows.append(("idle connections", "", "not measured", "-"))
    g = runs.get(("durable", "durable"))
    if g and "baram" in g:
        pb, pmo = m(g, "baram", dur_pub), m(g, "mosquitto", dur_pub)
        db, dmo = m(g, "baram", dur_drain), m(g, "mosquitto", dur_drain)
        rows.append(("durable QoS 1 into an offline session: publish", "faster than Mosquitto (baram fsyncs, Mosquitto does not)",
                     f"baram {n0(pb)} msgs/s acknowledged, Mosquitto {n0(pmo)} ({ratio(pb, pmo)}x)",
                     "**met**" if pb and pmo and pb > pmo else "**not met**"))
        rows.append(("durable: drain on reconnect", "faster than Mosquitto",
                     f"baram {n0(db)} msgs/s, Mosquitto {n0(dmo)} ({ratio(db, dmo)}x)",
                     "**met**" if db and dmo and db > dmo else "**not met**"))
    else:
        rows.append(("durable QoS 1", "", "not measured", "-"))
    return rows


def print_goals():
    print("| scenario | goal | result (medians) | |")
    print("|---|---|---|---|")
    for row in goal_rows():
        print("| " + " | ".join(row) + " |")
    print()


# ---- detail tables ---------------------------------------------------------

def print_throughput(scen, limits):
    g = runs[(scen, limits)]
    print(f"#### {scen}" + (" (default limits)" if limits == "default" else ""))
    print()
    print("| broker | rounds | delivered msgs/s | publisher msgs/s | msgs per broker CPU-s | broker CPU s | lost | dups | latency p50 ms | p99 ms | peak RSS MB | other % |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for b in brokers(g):
        rs = g[b]
        print("| " + " | ".join([
            b, str(len(rs)),
            spread([delivered(r) for r in rs], n0),
            spread([published(r) for r in rs], n0),
            spread([per_cpu(r) for r in rs], n0),
            n1(med([r["proc"].get("cpu_s") for r in rs])),
            spread([r["bench"].get("lost") for r in rs], n0),
            n0(med([r["bench"].get("duplicates") for r in rs])),
            n2(med([lat(r, "p50_ms") for r in rs])),
            spread([lat(r, "p99_ms") for r in rs], n2),
            n0(med([hwm_mb(r) for r in rs])),
            n0(med([other(r) for r in rs])),
        ]) + " |")
    if "baram" in g:
        parts = []
        for p in ("mosquitto", "mosquitto-nodelay", "mochi"):
            if p in g:
                parts.append(f"baram/{p}: delivered {ratio(m(g, 'baram', delivered), m(g, p, delivered))}, "
                             f"per CPU-s {ratio(m(g, 'baram', per_cpu), m(g, p, per_cpu))}")
        print()
        print("Ratios of medians: " + "; ".join(parts) + ".")
    print()


def print_latency(scen):
    g = runs[(scen, "raised")]
    print(f"#### {scen}")
    print()
    print("| broker | rounds | delivered msgs/s | lost | p50 ms | p90 ms | p99 ms | max ms | broker CPU s | other % |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for b in brokers(g):
        rs = g[b]
        print("| " + " | ".join([
            b, str(len(rs)), spread([delivered(r) for r in rs], n0),
            n0(med([r["bench"].get("lost") for r in rs])),
            spread([lat(r, "p50_ms") for r in rs], n2),
            spread([lat(r, "p90_ms") for r in rs], n2),
            spread([lat(r, "p99_ms") for r in rs], n2),
            spread([lat(r, "max_ms") for r in rs], n1),
            n2(med([r["proc"].get("cpu_s") for r in rs])),
            n0(med([other(r) for r in rs])),
        ]) + " |")
    print()


def print_idle():
    g = runs[("idle", "raised")]
    print("#### idle")
    print()
    print("| broker | rounds | connected / alive | connects/s | connect p99 ms | RSS per connection KB | RssAnon idle -> loaded MB | peak RSS MB | broker CPU s |")
    print("|---|---:|---|---:|---:|---:|---|---:|---:|")
    for b in brokers(g):
        rs = g[b]
        conn = [r["bench"]["conn"] for r in rs]
        rss = [idle_rss(r) for r in rs]
        print("| " + " | ".join([
            b, str(len(rs)),
            f"{min(c['connected'] for c in conn):,} / {min(c['alive'] for c in conn):,}",
            spread([c.get("connects_per_s") for c in conn], n0),
            n1(med([c["connect_latency"].get("p99_ms") for c in conn])),
            spread([x[0] for x in rss], n2),
            f"{n1(med([x[2] for x in rss]))} -> {n1(med([x[1] for x in rss]))}",
            n0(med([hwm_mb(r) for r in rs])),
            n1(med([r["proc"].get("cpu_s") for r in rs])),
        ]) + " |")
    print()


def print_durable():
    g = runs[("durable", "durable")]
    print("#### durable")
    print()
    print("| broker | rounds | publish msgs/s (acked) | ack p50 ms | ack p99 ms | queued | drain msgs/s | missing | broker CPU s (publish + drain) | RssAnon MB publishing / draining | peak RSS MB | data dir MB | other % |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for b in brokers(g):
        rs = g[b]
        pub = [r["bench"]["pub"] for r in rs]
        off = [r["bench"].get("offline") or {} for r in rs]
        print("| " + " | ".join([
            b, str(len(rs)),
            spread([p.get("msgs_per_s") for p in pub], n0),
            n2(med([p["latency"].get("p50_ms") for p in pub])),
            n2(med([p["latency"].get("p99_ms") for p in pub])),
            n0(med([p.get("acked") for p in pub])),
            spread([dur_drain(r) for r in rs], n0),
            n0(max((o.get("missing") or 0) for o in off)),
            n1(med([r["proc"].get("cpu_s") for r in rs])),
            f"{n0(med([dur_rss(r)[0] for r in rs]))} / {n0(med([dur_rss(r)[1] for r in rs]))}",
            n0(med([hwm_mb(r) for r in rs])),
            n0(med([r.get("data_dir_kb", 0) / 1024 for r in rs])),
            n0(med([other(r) for r in rs])),
        ]) + " |")
    print()


print(f"Runs: {sum(len(v) for g in runs.values() for v in g.values())}, baram commit(s) {', '.join(sorted(meta['commits']))}, "
      f"{min(meta['times'])} .. {max(meta['times'])}; 1-minute load average at the start of the runs: "
      f"median {med(meta['loads']):.2f} (min {min(meta['loads']):.2f}, max {max(meta['loads']):.2f}); "
      f"other processes: median {med(meta['others']):.0f}% of one core.")
print()
print_goals()
for key in sorted(runs, key=lambda k: (k[1] == "default", k[0])):
    scen, limits = key
    if scen == "idle":
        print_idle()
    elif scen == "durable":
        print_durable()
    elif scen.startswith("latency"):
        print_latency(scen)
    else:
        print_throughput(scen, limits)

#!/usr/bin/env python3
"""/proc helpers for bench/compare.sh (Linux).

    compare_proc.py snap PID              one JSON object: the process's CPU
                                          ticks and memory, the machine's CPU
                                          ticks and load average
    compare_proc.py sample PID FILE [S]   append "unix_time rss_anon_kb vm_rss_kb"
                                          to FILE every S seconds (0.5) until PID
                                          exits or this process is stopped
    compare_proc.py record --meta JSON --bench FILE --before FILE --after FILE
                           [--samples FILE] [--extra FILE]
                                          print one JSON line for the results file

CPU is utime + stime from /proc/PID/stat (in USER_HZ ticks, 100 per second);
memory is VmRSS, VmHWM (peak resident set) and RssAnon (anonymous memory:
heap and stacks, without the mapped binary) from /proc/PID/status.
"""
import json
import os
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")


def proc(pid):
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    out = {"pid": int(pid), "cpu_s": (int(fields[11]) + int(fields[12])) / HZ,
           "threads": int(fields[17])}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, val = line.partition(":")
            if name in ("VmRSS", "VmHWM", "RssAnon"):
                out[name.lower() + "_kb"] = int(val.split()[0])
    return out


def machine():
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...
    total = sum(cpu[:8])
    idle = cpu[3] + cpu[4]
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    return {"time": time.time(), "cpu_total_s": total / HZ, "cpu_busy_s": (total - idle) / HZ,
            "cpu_steal_s": cpu[7] / HZ, "loadavg": " ".join(load)}


def snap(pid):
    out = {"machine": machine()}
    try:
        out["proc"] = proc(pid)
    except (OSError, ValueError) as e:
        out["error"] = str(e)
    return out


def sample(pid, path, interval):
    with open(path, "a") as f:
        while True:
            try:
                p = proc(pid)
            except OSError:
                return
            f.write(f"{time.time():.3f} {p.get('rssanon_kb', 0)} {p.get('vmrss_kb', 0)}\n")
            f.flush()
            time.sleep(interval)


def load(path):
    if not path or not os.path.exists(path) or os.path.getsize(path) == 0:
        return None
    with open(path) as f:
        text = f.read().strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        # benchdurable prints a JSON line, then a human line
        return json.loads(text.splitlines()[0])


def record(args):
    opts = dict(zip(args[::2], args[1::2]))
    rec = json.loads(opts["--meta"])
    before, after = load(opts["--before"]), load(opts["--after"])
    rec["bench"] = load(opts["--bench"])
    b, a = before.get("proc"), after.get("proc")
    broker = {}
    if b and a:
        broker = {"cpu_s": round(a["cpu_s"] - b["cpu_s"], 2),
                  "rss_kb": a.get("vmrss_kb"), "hwm_kb": a.get("vmhwm_kb"),
                  "rss_anon_kb": a.get("rssanon_kb"), "rss_anon_start_kb": b.get("rssanon_kb"),
                  "rss_start_kb": b.get("vmrss_kb"), "threads": a.get("threads")}
    elif "error" in after:
        broker["error"] = after["error"]
    mb, ma = before["machine"], after["machine"]
    wall = ma["time"] - mb["time"]
    busy = ma["cpu_busy_s"] - mb["cpu_busy_s"]
    rec["wall_s"] = round(wall, 2)
    rec["proc"] = broker
    bench = rec["bench"] or {}
    # baram bench: bench_cpu_s; benchdurable: bench.cpu_s (publishing only)
    bench_cpu = bench.get("bench_cpu_s") or (bench.get("bench") or {}).get("cpu_s") or 0
    rec["machine"] = {
        "cores": os.cpu_count(),
        "busy_pct": round(100 * busy / wall, 1) if wall > 0 else None,
        "steal_pct": round(100 * (ma["cpu_steal_s"] - mb["cpu_steal_s"]) / wall, 1) if wall > 0 else None,
        # what neither the broker nor the load tool used, % of one core
        "other_pct": round(100 * (busy - broker.get("cpu_s", 0) - bench_cpu) / wall, 1) if wall > 0 else None,
        "loadavg_start": mb["loadavg"], "loadavg_end": ma["loadavg"],
    }
    if opts.get("--samples") and os.path.exists(opts["--samples"]):
        with open(opts["--samples"]) as f:
            rec["samples"] = [[float(t), int(x), int(y)] for t, x, y in (l.split() for l in f if l.strip())]
    if opts.get("--extra"):
        extra = load(opts["--extra"])
        if extra:
            rec.update(extra)
    print(json.dumps(rec, separators=(",", ":")))


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "snap":
        print(json.dumps(snap(sys.argv[2])))
    elif cmd == "sample":
        sample(sys.argv[2], sys.argv[3], float(sys.argv[4]) if len(sys.argv) > 4 else 0.5)
    elif cmd == "record":
        record(sys.argv[2:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()

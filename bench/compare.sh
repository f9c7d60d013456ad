#!/usr/bin/env bash
# baram against Mosquitto 2.0 and mochi-mqtt v2.7.9, on this machine, with
# one load tool (`baram bench`). For every round, scenario and broker: start
# the broker fresh on a loopback port, run one `baram bench ... --json
# --broker-pid PID` (or benchdurable for `durable`), read the broker's CPU
# (utime+stime) and memory (VmRSS, VmHWM, RssAnon) from /proc before and
# after, append one JSON line to $OUT, stop the broker by its PID.
#
#   bench/compare.sh                           # every scenario, ROUNDS=3
#   ROUNDS=1 DURATION=3s bench/compare.sh fanin-q0 pairs-q1
#   BROKERS="baram mosquitto" bench/compare.sh latency-q1
#   bench/compare.sh fanin-q1-default          # any scenario with default limits
#   PROFILE=1 bench/compare.sh fanout1000-q1   # baram only: a 5 s CPU profile mid-run
#   PROFILE=1 PROFILE_DELAY=0 PROFILE_SECONDS=4 bench/compare.sh idle
#   PROFILE=heap PROFILE_DELAY=11 bench/compare.sh durable   # live heap while draining
#   bench/compare_summary.py bench/results/compare-*.jsonl
#
# Scenarios (64-byte payloads, MQTT 3.1.1):
#   fanin-q0 fanin-q1            100 publishers -> 1 subscriber on PREFIX/#
#   fanout100-q0 fanout100-q1    1 publisher -> 100 subscribers
#   fanout1000-q0 fanout1000-q1  1 publisher -> 1000 subscribers
#   pairs-q0 pairs-q1            500 publisher/subscriber pairs
#   latency-q0 latency-q1        1 -> 1 at 10,000 msgs/s offered
#   idle                         IDLE_CLIENTS idle connections as fast as they
#                                come (--rate 0), held IDLE_HOLD; RSS sampled
#   durable                      QoS 1 from 100 publishers into an offline
#                                persistent session, then drain (baram on
#                                Pebble with sync always, Mosquitto with
#                                persistence; not mochi)
#   NAME-default                 NAME with each broker's default limits
#   NAME-v5                      NAME with MQTT 5 clients (e.g. fanout100-q0-v5)
#
# Brokers (BROKERS): baram, mosquitto, mochi, and mosquitto-nodelay
# (mosquitto with set_tcp_nodelay true, which Go's sockets have by default).
#
# Limits ("raised", the default): queues unbounded and the same inflight
# window (INFLIGHT, 100) where the broker has the setting; see the config
# files written below. mochi's main has no flags for its capabilities, so
# it always runs with its defaults (8192 inflight, 8192 pending writes per
# client, no queue for online clients beyond those).
#
# Needs go, /usr/sbin/mosquitto, python3. Loopback only. Stops only the
# brokers it started, by PID.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-6s}
BROKERS=${BROKERS:-"baram mosquitto mochi"}
INFLIGHT=${INFLIGHT:-100}
IDLE_CLIENTS=${IDLE_CLIENTS:-19000}
IDLE_HOLD=${IDLE_HOLD:-45s}
IDLE_SOURCES=${IDLE_SOURCES:-127.0.0.2-127.0.0.9}
DURABLE_DURATION=${DURABLE_DURATION:-8s}
PROFILE=${PROFILE:-}
LATENCY_EXTRA=${LATENCY_EXTRA-mosquitto-nodelay}   # brokers added to the latency scenarios
OUT=${OUT:-bench/results/compare-$(date -u +%Y%m%d).jsonl}
MOSQUITTO=${MOSQUITTO:-/usr/sbin/mosquitto}
ALL="fanin-q0 fanin-q1 fanout100-q0 fanout100-q1 fanout1000-q0 fanout1000-q1 pairs-q0 pairs-q1 latency-q0 latency-q1 idle durable"
if [ $# -gt 0 ]; then SCENARIOS="$*"; else SCENARIOS=$ALL; fi

# The idle scenario needs about 19,000 descriptors in the load tool and in
# the broker; children inherit the soft limit.
ulimit -n "$(ulimit -Hn)"

. bench/lib.sh   # free_port, stop_broker (also ends the RSS sampler), wait_port
PORT=${PORT:-$(free_port 29830)}
APORT=$(free_port 29940)

work=$(mktemp -d /tmp/baram-compare.XXXXXX)
mkdir -p "$(dirname "$OUT")"
echo "# building baram ($(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!bench' ':!docs' || echo ', with uncommitted changes')) and mochi" >&2
go build -o "$work/baram" ./cmd/baram
go build -o "$work/benchdurable" ./internal/bench/cmd/benchdurable
(cd bench/peers/mochi && go build -o "$work/mochi" .)
commit=$(git rev-parse --short HEAD)
dirty=false
git diff --quiet HEAD -- . ':!bench' ':!docs' || dirty=true

# baram: the defaults are max_inflight 32, max_queued_messages 1000.
cat > "$work/baram-raised.yaml" <<YAML
limits:
  max_inflight: $INFLIGHT
  max_queued_messages: 0   # unbounded, as mosquitto's max_queued_messages 0
  max_queued_bytes: 0
YAML
: > "$work/baram-default.yaml"
cat > "$work/baram-durable.yaml" <<YAML
limits:
  max_queued_messages: 0
store:
  sync: always             # fsync before every PUBACK
YAML

# Mosquitto: the defaults are max_inflight_messages 20, max_queued_messages 1000.
mosq_conf() { # limits [persistence-dir]
  echo "listener $PORT 127.0.0.1"
  echo "allow_anonymous true"
  echo "max_connections -1"
  echo "user root"          # started as root: do not switch to user mosquitto
  echo "log_dest stderr"
  echo "log_type error"
  echo "log_type warning"
  case $1 in
    raised) echo "max_queued_messages 0"; echo "max_queued_bytes 0"; echo "max_inflight_messages $INFLIGHT" ;;
    durable) echo "max_queued_messages 0" ;;
  esac
  if [ -n "${2:-}" ]; then
    echo "persistence true"          # autosave_interval default: 1800 s
    echo "persistence_location $2/"
  fi
}

pid=
sampler=
trap 'stop_broker; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

start_broker() { # broker limits
  rm -rf "$work/data"; mkdir -p "$work/data"
  : > "$work/broker.log"
  local admin=(--admin=)
  if [ -n "$PROFILE" ]; then admin=(--admin "127.0.0.1:$APORT"); fi
  case $1/$2 in
    baram/durable)
      "$work/baram" serve --listen "127.0.0.1:$PORT" --store pebble --data-dir "$work/data" "${admin[@]}" \
        --log-level warn --config "$work/baram-durable.yaml" 2>>"$work/broker.log" &
      pid=$! ;;
    baram/*)
      "$work/baram" serve --listen "127.0.0.1:$PORT" --store memory "${admin[@]}" --log-level warn \
        --config "$work/baram-$2.yaml" 2>>"$work/broker.log" &
      pid=$! ;;
    mosquitto/durable)
      mosq_conf durable "$work/data" > "$work/mosquitto.conf"
      "$MOSQUITTO" -c "$work/mosquitto.conf" 2>>"$work/broker.log" &
      pid=$! ;;
    mosquitto/*|mosquitto-nodelay/*)
      mosq_conf "$2" > "$work/mosquitto.conf"
      # Go sets TCP_NODELAY on baram's and mochi's sockets; mosquitto does
      # not unless told to.
      if [ "$1" = mosquitto-nodelay ]; then echo "set_tcp_nodelay true" >> "$work/mosquitto.conf"; fi
      "$MOSQUITTO" -c "$work/mosquitto.conf" 2>>"$work/broker.log" &
      pid=$! ;;
    mochi/*)
      "$work/mochi" -addr "127.0.0.1:$PORT" 2>>"$work/broker.log" &
      pid=$! ;;
    *) echo "unknown broker $1" >&2; exit 2 ;;
  esac
  wait_port
}

bench_args() { # scenario -> the baram bench arguments
  local s=$1
  if [ "${s%-v5}" != "$s" ]; then  # NAME-v5: NAME with MQTT 5 clients
    echo "$(bench_args "${s%-v5}") --mqtt 5"
    return
  fi
  local q=${s##*-q}
  case $s in
    fanin-q?)      echo "fanin --publishers 100 --subscribers 1 --qos $q --duration $DURATION" ;;
    fanout100-q?)  echo "fanout --publishers 1 --subscribers 100 --qos $q --duration $DURATION" ;;
    fanout1000-q?) echo "fanout --publishers 1 --subscribers 1000 --qos $q --duration $DURATION" ;;
    pairs-q?)      echo "pairs --clients 500 --qos $q --duration $DURATION" ;;
    latency-q?)    echo "latency --rate 10000 --window 100 --qos $q --duration $DURATION" ;;
    idle)          echo "conn --clients $IDLE_CLIENTS --rate 0 --sources $IDLE_SOURCES --duration $IDLE_HOLD --connect-parallel 64 --connect-timeout 20s" ;;
    *) echo "unknown scenario $s" >&2; exit 2 ;;
  esac
}

profile() { # a CPU profile of baram: PROFILE_SECONDS (5) from PROFILE_DELAY (2) s into the run
  sleep "${PROFILE_DELAY:-2}"
  local f="bench/results/profile-$scen-$(date -u +%Y%m%dT%H%M%SZ)"
  local url="http://127.0.0.1:$APORT/debug/pprof/profile?seconds=${PROFILE_SECONDS:-5}"
  if [ "$PROFILE" = heap ]; then  # PROFILE=heap: the live heap at PROFILE_DELAY
    f="bench/results/heap-$scen-$(date -u +%Y%m%dT%H%M%SZ)"
    url="http://127.0.0.1:$APORT/debug/pprof/heap"
  fi
  if curl -sf -o "$f.pb.gz" "$url"; then
    { go tool pprof -top -nodecount 40 "$work/baram" "$f.pb.gz"
      echo; echo "# cumulative"; go tool pprof -top -cum -nodecount 60 "$work/baram" "$f.pb.gz"
    } > "$f.txt" 2>/dev/null || true
    echo "# profile: $f.txt" >&2
  else
    echo "# profile failed" >&2
  fi
}

run_one() { # round scenario broker
  local round=$1 scen=$2 broker=$3 limits=raised base=$2
  case $scen in *-default) limits=default; base=${scen%-default} ;; esac
  [ "$base" = durable ] && limits=durable
  start_broker "$broker" "$limits"
  sleep 1   # let the broker settle before the idle baseline
  python3 bench/compare_proc.py snap "$pid" > "$work/before.json"
  local rc=0 samples=
  : > "$work/bench.json"; rm -f "$work/samples"
  if [ "$base" = idle ] || [ "$base" = durable ]; then
    samples="$work/samples"
    python3 bench/compare_proc.py sample "$pid" "$samples" 0.5 &
    sampler=$!
  fi
  local prof=
  if [ -n "$PROFILE" ] && [ "$broker" = baram ]; then profile & prof=$!; fi
  if [ "$base" = durable ]; then
    timeout 300 "$work/benchdurable" -addr "127.0.0.1:$PORT" -publishers 100 -qos 1 -payload 64 -window 10 \
      -duration "$DURABLE_DURATION" -offline-sub bench-offline- -drain-offline -broker-pid "$pid" \
      > "$work/bench.json" 2>"$work/bench.err" || rc=$?
  else
    # shellcheck disable=SC2046
    timeout 300 "$work/baram" bench $(bench_args "$base") --host 127.0.0.1 --port "$PORT" \
      --json --quiet --broker-pid "$pid" > "$work/bench.json" 2>"$work/bench.err" || rc=$?
  fi
  [ -n "$prof" ] && wait "$prof"
  python3 bench/compare_proc.py snap "$pid" > "$work/after.json"
  local du_kb=0
  [ "$base" = durable ] && du_kb=$(du -sk "$work/data" | cut -f1)
  if [ -n "$sampler" ]; then kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true; sampler=; fi
  stop_broker
  local meta
  meta=$(printf '{"scenario":"%s","limits":"%s","broker":"%s","round":%d,"commit":"%s","dirty":%s,"inflight":%d,"duration":"%s","rc":%d,"data_dir_kb":%d,"profiled":%s,"time":"%s"}' \
    "$base" "$limits" "$broker" "$round" "$commit" "$dirty" "$INFLIGHT" "$DURATION" "$rc" "$du_kb" \
    "$([ -n "$PROFILE" ] && echo true || echo false)" "$(date -u +%Y-%m-%dT%H:%M:%SZ)")
  if [ ! -s "$work/bench.json" ]; then
    echo "# $scen $broker round $round: no result (rc $rc): $(tail -2 "$work/bench.err")" >&2
  fi
  local out=$OUT
  [ -n "$PROFILE" ] && out=${OUT%.jsonl}-profiled.jsonl
  python3 bench/compare_proc.py record --meta "$meta" --bench "$work/bench.json" \
    --before "$work/before.json" --after "$work/after.json" ${samples:+--samples "$samples"} >> "$out"
  tail -1 "$out" | python3 -c '
import json, sys
r = json.load(sys.stdin); b = r.get("bench") or {}; br = r.get("proc", {})
if r["scenario"] == "durable":
    p = b.get("pub", {}); d = ((b.get("offline") or {}).get("drained") or {})
    line = "pub %.0f msgs/s, drain %.0f msgs/s, missing %s" % (p.get("msgs_per_s", 0), d.get("msgs_per_s", 0), (b.get("offline") or {}).get("missing"))
elif r["scenario"] == "idle":
    c = b.get("conn") or {}
    line = "%d/%d connected at %.0f/s, %d alive" % (c.get("connected", 0), c.get("clients", 0), c.get("connects_per_s", 0), c.get("alive", 0))
else:
    line = "%.0f msgs/s (pub %.0f), lost %d, dups %d, p99 %.2f ms" % (b.get("msgs_per_s", 0), b.get("sent_per_s", 0), b.get("lost", 0), b.get("duplicates", 0), (b.get("latency") or {}).get("p99_ms", 0))
print("%-14s %-9s r%d  %s; broker %.2f CPU-s, HWM %.0f MB; load %s; rc %d" % (r["scenario"] + ("" if r["limits"] != "default" else "-default"), r["broker"], r["round"], line, br.get("cpu_s", 0), (br.get("hwm_kb") or 0) / 1024, r["machine"]["loadavg_start"], r["rc"]))
' >&2
}

echo "# $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), load $(cut -d' ' -f1-3 /proc/loadavg), ulimit -n $(ulimit -n); results in $OUT" >&2
for round in $(seq "$ROUNDS"); do
  for scen in $SCENARIOS; do
    brokers=$BROKERS
    case $scen in
      durable*) brokers=$(echo "$BROKERS" | tr ' ' '\n' | grep -v '^mochi$' | tr '\n' ' ') ;;
      latency*) brokers="$BROKERS $LATENCY_EXTRA" ;;
    esac
    if [ -n "$PROFILE" ]; then brokers=baram; fi
    for broker in $brokers; do
      run_one "$round" "$scen" "$broker"
    done
  done
done
echo "# results in $OUT" >&2

#!/usr/bin/env bash
# Memory and recovery with many offline persistent sessions.
#
# For each case SESSIONSxMESSAGES: build a Pebble data directory holding
# that many offline persistent sessions (one QoS 1 subscription each) with
# MESSAGES queued QoS 1 messages each, written straight through the store
# API (benchstore -mode seed: the broker's own key layout and record
# encodings); start `baram serve --data-dir` on it; report the "store
# recovered" log line, the broker's VmRSS/VmHWM once it listens (and again
# after 10 s), and the directory size; reconnect DRAIN sessions and check
# each gets all its messages; stop the broker. Before the broker starts,
# an in-process recovery of the same directory (benchstore -mode open)
# reports the live Go heap it takes.
#
#   bench/rss.sh                         # 10000x100 and 100000x10 (1M messages each)
#   CASES="100000x100" bench/rss.sh      # 10M messages (about 1.5 GB on disk)
#
# Kills only the broker it started, by PID.
set -euo pipefail
cd "$(dirname "$0")/.."

CASES=${CASES:-"10000x100 100000x10"}
DRAIN=${DRAIN:-100}
SEEDFLAGS=${SEEDFLAGS:-}   # e.g. -random: incompressible payloads
OUT=${OUT:-bench/results/rss-$(date -u +%Y%m%dT%H%M%SZ).jsonl}
. bench/lib.sh   # free_port, stop_broker
PORT=${PORT:-$(free_port 28930)}

work=$(mktemp -d /tmp/baram-rss.XXXXXX)
mkdir -p "$(dirname "$OUT")"
go build -o "$work/baram" ./cmd/baram
go build -o "$work/benchstore" ./internal/bench/cmd/benchstore
cat > "$work/baram.yaml" <<YAML
listeners:
  - address: 127.0.0.1:$PORT
limits:
  max_queued_messages: 0
YAML

pid=
trap 'stop_broker; rm -rf "$work"' EXIT

kb() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$pid/status"; }

for c in $CASES; do
  sessions=${c%x*}
  messages=${c#*x}
  data="$work/data-$c"
  echo "== $sessions sessions x $messages messages" >&2
  seed=$("$work/benchstore" -mode seed -dir "$data" -sessions "$sessions" -messages "$messages" $SEEDFLAGS)
  echo "seed: $seed" >&2
  du_kb=$(du -sk "$data" | cut -f1)
  inproc=$("$work/benchstore" -mode open -dir "$data")
  echo "in-process open: $inproc" >&2

  start=$(date +%s.%N)
  "$work/baram" serve --config "$work/baram.yaml" --data-dir "$data" --log-format json 2>"$work/serve.log" &
  pid=$!
  # The port accepts connections before recovery ends; "baram listening"
  # is logged once the broker serves.
  for _ in $(seq 6000); do
    if grep -q '"msg":"baram listening"' "$work/serve.log"; then break; fi
    kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
    sleep 0.02
  done
  listening=$(echo "$(date +%s.%N) $start" | awk '{printf "%.3f", $1 - $2}')
  rss0=$(kb VmRSS); hwm0=$(kb VmHWM)
  sleep 10
  rss10=$(kb VmRSS)
  recovered=$(grep -m1 '"store recovered"' "$work/serve.log")
  echo "recovered: $recovered" >&2
  echo "listening after ${listening}s; VmRSS ${rss0} kB (after 10 s: ${rss10} kB), VmHWM ${hwm0} kB; data dir ${du_kb} kB" >&2
  check=$("$work/benchstore" -mode drain -addr "127.0.0.1:$PORT" -sessions "$DRAIN" -messages "$messages" |
    sed 's/"sub":{.*}}$/"sub":"..."}/')
  echo "drain check ($DRAIN sessions): $check" >&2
  stop_broker
  printf '{"case":"%s","seed_flags":"'"$SEEDFLAGS"'","sessions":%s,"messages_per_session":%s,"seed":%s,"data_dir_kb":%s,"listening_s":%s,"rss_kb":%s,"rss_10s_kb":%s,"hwm_kb":%s,"recovered":%s,"drain":%s,"inproc":%s}\n' \
    "$c" "$sessions" "$messages" "$seed" "$du_kb" "$listening" "$rss0" "$rss10" "$hwm0" "$recovered" "$check" "$inproc" >> "$OUT"
  rm -rf "$data"
done
echo "results in $OUT" >&2

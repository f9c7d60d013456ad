#!/usr/bin/env bash
# Durable QoS 1 throughput: baram on Pebble (sync always), baram in memory
# and Mosquitto 2.0 with persistence, each started fresh for every run, on
# loopback. Writes one JSON line per run to $OUT and prints the human line.
#
#   bench/durable.sh                 # 3 rounds x {1,10,100} publishers x {no sub, offline sub}
#   ROUNDS=1 DURATION=3s PUBS="10" bench/durable.sh
#
# Needs: go, /usr/sbin/mosquitto. Kills only the brokers it started, by PID.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
PUBS=${PUBS:-"1 10 100"}
WINDOW=${WINDOW:-10}
PAYLOAD=${PAYLOAD:-64}
MODES=${MODES:-"nosub offline"}
BROKERS=${BROKERS:-"baram-pebble baram-memory mosquitto"}
OUT=${OUT:-bench/results/durable-$(date -u +%Y%m%dT%H%M%SZ).jsonl}
MOSQUITTO=${MOSQUITTO:-/usr/sbin/mosquitto}

. bench/lib.sh   # free_port, stop_broker, wait_port
PORT=${PORT:-$(free_port 28830)}

work=$(mktemp -d /tmp/baram-durable.XXXXXX)
mkdir -p "$(dirname "$OUT")"
go build -o "$work/baram" ./cmd/baram
go build -o "$work/benchdurable" ./internal/bench/cmd/benchdurable

cat > "$work/baram.yaml" <<YAML
listeners:
  - address: 127.0.0.1:$PORT
limits:
  max_queued_messages: 0   # no cap, like mosquitto's max_queued_messages 0
store:
  sync: always
log:
  level: warn
YAML

pid=
trap 'stop_broker; rm -rf "$work"' EXIT

start_broker() { # kind
  rm -rf "$work/data"
  mkdir -p "$work/data"
  case $1 in
    baram-pebble)
      "$work/baram" serve --config "$work/baram.yaml" --data-dir "$work/data" --store pebble 2>>"$work/broker.log" &
      pid=$! ;;
    baram-memory)
      "$work/baram" serve --config "$work/baram.yaml" --store memory 2>>"$work/broker.log" &
      pid=$! ;;
    mosquitto|mosquitto-nodelay)
      { cat bench/mosquitto-persist.conf
        echo "listener $PORT 127.0.0.1"
        echo "persistence_location $work/data/"
        # Go sets TCP_NODELAY on baram's sockets; mosquitto does not by default.
        if [ "$1" = mosquitto-nodelay ]; then echo "set_tcp_nodelay true"; fi
      } > "$work/mosquitto.conf"
      "$MOSQUITTO" -c "$work/mosquitto.conf" 2>>"$work/broker.log" &
      pid=$! ;;
    *) echo "unknown broker $1" >&2; exit 2 ;;
  esac
  wait_port
}

echo "# $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for round in $(seq "$ROUNDS"); do
  for pubs in $PUBS; do
    for mode in $MODES; do
      for kind in $BROKERS; do
        start_broker "$kind"
        args=(-addr "127.0.0.1:$PORT" -publishers "$pubs" -qos 1 -payload "$PAYLOAD" -window "$WINDOW"
              -duration "$DURATION" -broker-pid "$pid" -label "$kind/$mode/p$pubs/r$round")
        if [ "$mode" = offline ]; then
          args+=(-offline-sub bench-offline- -drain-offline)
        fi
        "$work/benchdurable" "${args[@]}" > "$work/run.out"
        du_kb=$(du -sk "$work/data" | cut -f1)
        stop_broker
        head -1 "$work/run.out" | sed "s/}\$/,\"data_dir_kb\":$du_kb,\"loadavg\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}/" >> "$OUT"
        tail -1 "$work/run.out"
      done
    done
  done
done
echo "results in $OUT" >&2

# Sourced by the bench scripts: a free port, and waiting for and ending
# the broker they started. The caller sets pid (the broker's PID, empty
# when none), PORT (its loopback port) and work (its scratch folder, with
# broker.log).

# free_port prints the first port of $1..$1+100 that nobody listens on
# (another broker may hold the usual ones).
free_port() {
  for p in $(seq "$1" $(($1 + 100))); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo "no free port from $1" >&2; exit 1
}

# stop_broker ends the broker by its PID: TERM, then KILL if it has not
# exited after 30 s (a broker flushing a big store may take a while).
stop_broker() {
  if [ -n "${sampler:-}" ]; then kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true; sampler=; fi
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
  fi
}

# wait_port waits up to 10 s for the broker to listen on PORT, and fails
# at once if it exits, showing the end of its log.
wait_port() {
  for _ in $(seq 200); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "broker exited; its log:" >&2; tail -5 "$work/broker.log" >&2; return 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "broker did not listen on $PORT" >&2
  return 1
}

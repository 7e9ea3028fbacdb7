#!/usr/bin/env bash
# Tocsin and Alertmanager side by side on the same workload: ALERTS distinct
# alerts (default 10,000) posted in batches of BATCH (default 100) from one
# client, each its own notification to the same local webhook receiver
# (nginx answering 200). Prints each round, the medians and the ratios.
#
#   bash scripts/vs-alertmanager.sh            # ROUNDS=3 ALERTS=10000 BATCH=100
#
# Installs Debian's prometheus-alertmanager (0.25) and nginx-light when they
# are missing, and builds Tocsin in release mode. Everything runs on loopback
# in a temporary directory that is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

ALERTS=${ALERTS:-10000}
BATCH=${BATCH:-100}
ROUNDS=${ROUNDS:-3}
HOOK_PORT=${HOOK_PORT:-18480}
AM_PORT=${AM_PORT:-18493}
TOCSIN_PORT=${TOCSIN_PORT:-18450}

if ! command -v prometheus-alertmanager >/dev/null || ! command -v nginx >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq prometheus-alertmanager nginx-light >/dev/null
fi
command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }
cargo build --release --locked -q -p tocsin
TOCSIN=${TOCSIN_BIN:-$PWD/target/release/tocsin}

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_http() { # URL: waits up to 10 s for a 200
  for _ in $(seq 1 200); do
    if python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "$1" 2>/dev/null; then
      return 0
    fi
    sleep 0.05
  done
  echo "no answer from $1" >&2
  return 1
}

# The receiver: nginx answering 200 to every POST, one access-log line each.
mkdir -p "$work/nginx"
cat > "$work/nginx/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log $work/nginx/access.log;
  client_body_temp_path $work/nginx/body;
  client_max_body_size 16m;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$HOOK_PORT;
    location / { return 200 "ok\n"; }
  }
}
NGINX
: > "$work/nginx/access.log"
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
pids+=($!)
wait_http "http://127.0.0.1:$HOOK_PORT/ready"
NGINX_WORKER=$(pgrep -P "$(cat "$work/nginx/nginx.pid")" | head -1)

cat > "$work/alertmanager.yml" <<AM
route:
  receiver: hook
  group_by: ['...']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
receivers:
  - name: hook
    webhook_configs:
      - url: http://127.0.0.1:$HOOK_PORT/alertmanager
        send_resolved: false
AM

cat > "$work/tocsin.yaml" <<TOCSIN
server:
  listen: 127.0.0.1:$TOCSIN_PORT
delivery:
  allow_private_networks: true   # the receiver is on loopback
contacts:
  - name: hook
    channel: webhook
    webhook: http://127.0.0.1:$HOOK_PORT/tocsin
    concurrency: ${CONCURRENCY:-32}
contact_groups:
  - { name: all, contacts: [hook] }
notification_policies:
  - { name: all, contact_groups: [all] }
subscriptions:
  - { name: everything, notification_policy: all }
TOCSIN
"$TOCSIN" check --config "$work/tocsin.yaml"

run_alertmanager() { # ROUND
  local dir="$work/am-$1"
  mkdir -p "$dir"
  prometheus-alertmanager --config.file="$work/alertmanager.yml" --storage.path="$dir" \
    --web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= --log.level=warn \
    2>"$dir/log" &
  local pid=$!
  pids+=($pid)
  wait_http "http://127.0.0.1:$AM_PORT/-/ready"
  python3 scripts/loadgen.py --target alertmanager --port "$AM_PORT" --pid "$pid" \
    --log "$work/nginx/access.log" --receiver-pid "$NGINX_WORKER" --path /alertmanager --alerts "$ALERTS" --batch "$BATCH" --run "am$1"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

run_tocsin() { # ROUND
  local dir="$work/tocsin-$1"
  mkdir -p "$dir"
  ${TOCSIN_WRAP:-} "$TOCSIN" serve --config "$work/tocsin.yaml" --data "$dir" 2>"$dir/log" &
  local pid=$! wrapper=$!
  pids+=($pid)
  wait_http "http://127.0.0.1:$TOCSIN_PORT/healthz"
  # With a wrapper (TOCSIN_WRAP="perf record -g --" to profile), measure Tocsin itself.
  [ -z "${TOCSIN_WRAP:-}" ] || pid=$(pgrep -n -f "$TOCSIN serve")
  python3 scripts/loadgen.py --target tocsin --port "$TOCSIN_PORT" --pid "$pid" \
    --log "$work/nginx/access.log" --receiver-pid "$NGINX_WORKER" --path /tocsin --alerts "$ALERTS" --batch "$BATCH" --run "t$1"
  kill -INT "$pid"; wait "$wrapper" 2>/dev/null || true
}

echo "Tocsin $("$TOCSIN" --version 2>/dev/null | awk '{print $2}') vs $(prometheus-alertmanager --version 2>&1 | head -1)"
echo "$ALERTS distinct alerts, batches of $BATCH, one client, $ROUNDS rounds, $(nproc) cores"
: > "$work/results"
for round in $(seq 1 "$ROUNDS"); do
  [ "${ONLY:-}" = tocsin ] || run_alertmanager "$round" | tee -a "$work/results"
  [ "${ONLY:-}" = alertmanager ] || run_tocsin "$round" | tee -a "$work/results"
done

[ -z "${ONLY:-}" ] || exit 0
python3 - "$work/results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def med(target, key):
    return statistics.median(r[key] for r in rows if r["target"] == target)
for r in rows:
    if r["received"] < r["alerts"]:
        sys.exit(f"{r['target']}: only {r['received']} of {r['alerts']} notifications arrived")
am_t, to_t = med("alertmanager", "end_to_end_seconds"), med("tocsin", "end_to_end_seconds")
am_m, to_m = med("alertmanager", "peak_rss_kib") / 1024, med("tocsin", "peak_rss_kib") / 1024
print()
am_c, to_c = med("alertmanager", "cpu_seconds"), med("tocsin", "cpu_seconds")
am_r, to_r = med("alertmanager", "receiver_cpu_seconds"), med("tocsin", "receiver_cpu_seconds")
print(f"{'median of rounds':<18} {'end to end':>12} {'peak RSS':>12} {'server CPU':>12} {'nginx CPU':>12}")
print(f"{'Alertmanager':<18} {am_t:>10.3f} s {am_m:>8.1f} MiB {am_c:>10.2f} s {am_r:>10.2f} s")
print(f"{'Tocsin':<18} {to_t:>10.3f} s {to_m:>8.1f} MiB {to_c:>10.2f} s {to_r:>10.2f} s")
print(f"{'Tocsin / AM':<18} {to_t / am_t:>12.3f} {to_m / am_m:>12.3f} {to_c / am_c:>12.3f}")
PY

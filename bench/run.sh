#!/usr/bin/env bash
# hallq benchmarks (`make bench`): ticket issue, call-next, call→display latency over SSE, SSE
# capacity of one process, profiles, instructions per request (valgrind's callgrind, in process:
# a figure this machine kind's varying speed does not move), booking (pgbench baselines, spread and hot-slot booking,
# availability; `bash bench/booking.sh` runs only that) and notifications (call → WeChat message
# latency, delivery throughput, a hall at peak, against hallq's WeChat stand-in;
# `bash bench/notifications.sh` runs only that). About 20 minutes; every load is bounded in
# count and time and goes to 127.0.0.1 only. Prints a summary and puts a dated section in
# bench/RESULTS.md.
#
# Needs: the project's venv (.venv), PostgreSQL on 127.0.0.1:5432 (trust auth, user postgres).
# Installs if missing: wrk and valgrind (apt), py-spy (PyPI, into a separate tools venv, not the project's).
# Uses its own databases (hallq_bench_tpl, hallq_bench, and for booking hallq_bench_tpl_booking
# and hallq_bench_pgbench: dropped and recreated every run), a
# private redis-server on 127.0.0.1:6391 when redis-server is installed (otherwise db 15 of the
# Redis at 6379; hallq's pub/sub channels are not namespaced, so a private server keeps the
# bench's events away from any other hallq using that Redis), and BENCH_WORK for raw output.
#
# Knobs (environment): BENCH_APP_DIR (benchmark another tree, e.g. a scratch copy with a fix),
# BENCH_PROCESSES (1,2,3), BENCH_ISSUE_SECONDS (15), BENCH_CALL_SECONDS (10), BENCH_CALL_BACKLOG
# (1000 waiting tickets per service before the calls),
# BENCH_LATENCY_PROCESSES (1,2), BENCH_LATENCY_RATE (5 calls/s), BENCH_LATENCY_CALLS (200),
# BENCH_CAPACITY_STEPS (1000,2000,5000,10000), BENCH_INSTRUCTION_COUNT (100 requests counted),
# BENCH_PORT (18200), BENCH_WORK (/tmp/hallq-bench);
# booking: BENCH_BOOKING_PARTS (pgbench,spread,hot,availability,statements,instructions,
# profile), BENCH_BOOKING_PROCESSES (1,2), BENCH_BOOKING_SECONDS (20), BENCH_PGBENCH_SECONDS (20),
# BENCH_BOOKING_AVAILABILITY_SECONDS (10), BENCH_BOOKING_HOT_ATTEMPTS (5000),
# BENCH_BOOKING_CITIZENS (20000), BENCH_HOT_RECORDS (a path prefix: every hot-slot answer's
# times as JSON, PREFIX-1p.json …); notifications: BENCH_NOTIFY_PARTS (latency,throughput,peak),
# BENCH_NOTIFY_LATENCY_CALLS (300), BENCH_NOTIFY_LATENCY_RATE (10/s), BENCH_NOTIFY_MESSAGES
# (20000), BENCH_NOTIFY_WORKERS (1,2), BENCH_NOTIFY_PEAK_TICKETS (1000),
# BENCH_NOTIFY_PEAK_SECONDS (60), BENCH_NOTIFY_PEAK_WORKERS (2), BENCH_SANDBOX_PORT (18290; the
# WeChat stand-in), more in bench/hallq_notifications.py; BENCH_DB / BENCH_TEMPLATE_DB rename
# the databases; BENCH_TIMEOUT (1800 s for the whole run).
# Arguments: the phases to run (issue calls latency capacity floor pgbench profile instructions
# cpu booking notifications; default all). cpu: Python's and PostgreSQL's CPU per call pair and
# per ticket, BENCH_CPU_COUNT (2000) requests one at a time in process; BENCH_CPU_PROFILE=1 also
# records py-spy's raw stacks of it (cpu-calls.pyspy.txt in BENCH_WORK).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${BENCH_PYTHON:-$ROOT/.venv/bin/python}
export BENCH_WORK=${BENCH_WORK:-/tmp/hallq-bench}
TOOLS=${BENCH_TOOLS:-/tmp/hallq-bench-tools}
REDIS_PORT=${BENCH_REDIS_PORT:-6391}
started=$(date +%s)

if [ ! -x "$PY" ]; then
  echo "bench: $PY is missing: run 'make install' first" >&2
  exit 2
fi
case "$BENCH_WORK" in
  /tmp/?*|*hallq-bench*) rm -rf "$BENCH_WORK" ;;
  *) echo "bench: BENCH_WORK=$BENCH_WORK is emptied on every run: use a path under /tmp" >&2; exit 2 ;;
esac
mkdir -p "$BENCH_WORK"

# --- tools -----------------------------------------------------------------------------------
apt_install() {
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "bench: please install $*: sudo apt-get install $*" >&2
    return 1
  fi
}
command -v wrk >/dev/null 2>&1 || apt_install wrk
command -v pgbench >/dev/null 2>&1 || apt_install postgresql-contrib || echo "bench: no pgbench; that phase is skipped"
command -v psql >/dev/null 2>&1 || apt_install postgresql-client || true
command -v valgrind >/dev/null 2>&1 || apt_install valgrind || echo "bench: no valgrind; the instructions phase is skipped"

PY_SPY=$TOOLS/bin/py-spy
if [ ! -x "$PY_SPY" ]; then
  UV_BIN=""
  for candidate in "${UV:-}" "$ROOT/.tools/bin/uv" /tmp/tools/bin/uv "$(command -v uv || true)"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then UV_BIN=$candidate; break; fi
  done
  if [ -n "$UV_BIN" ]; then
    "$UV_BIN" venv -q "$TOOLS" >/dev/null 2>&1 && "$UV_BIN" pip install -q --python "$TOOLS/bin/python" py-spy >/dev/null 2>&1 || true
  else
    python3 -m venv "$TOOLS" && "$TOOLS/bin/pip" install -q py-spy >/dev/null 2>&1 || true
  fi
  [ -x "$PY_SPY" ] || echo "bench: py-spy could not be installed; the profile phase is skipped"
fi
export BENCH_PY_SPY=$PY_SPY

# 10,000 SSE streams need 10,000 descriptors in the server and as many in the client.
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt 24000 ] && [ "$(id -u)" = 0 ]; then
  ulimit -Hn 65536 2>/dev/null || true
  hard=$(ulimit -Hn)
fi
ulimit -n "$([ "$hard" = unlimited ] && echo 65536 || echo $((hard < 65536 ? hard : 65536)))"

# --- a private Redis --------------------------------------------------------------------------
REDIS_PID=""
cleanup() {
  if [ -n "$REDIS_PID" ]; then kill "$REDIS_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT
if command -v redis-server >/dev/null 2>&1; then
  if (exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT") 2>/dev/null; then
    echo "bench: port $REDIS_PORT is taken; set BENCH_REDIS_PORT" >&2
    exit 2
  fi
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --logfile "$BENCH_WORK/redis.log" >/dev/null 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT") 2>/dev/null && break
    sleep 0.1
  done
  export BENCH_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
else
  echo "bench: no redis-server binary; using db 15 of the Redis at 127.0.0.1:6379 (shared channels)"
  export BENCH_REDIS_URL=${BENCH_REDIS_URL:-redis://127.0.0.1:6379/15}
fi

# --- the code under test: a copy of the tree as it is now ----------------------------------------
# The work tree may be edited while the bench runs (10 minutes); a copy keeps one run on one
# version of the code. The venv is shared (symlinked). BENCH_APP_DIR picks another tree instead.
if [ -z "${BENCH_APP_DIR:-}" ]; then
  mkdir -p "$BENCH_WORK/app"
  tar -C "$ROOT" --exclude=./.venv --exclude=./.git --exclude=./var --exclude=./bench \
    --exclude=./.tools --exclude='__pycache__' --exclude='./.*cache*' --exclude=./.hypothesis \
    --exclude=./test-artifacts --exclude=./node_modules -cf - . | tar -C "$BENCH_WORK/app" -xf -
  ln -s "$ROOT/.venv" "$BENCH_WORK/app/.venv"
  export BENCH_APP_DIR=$BENCH_WORK/app BENCH_SNAPSHOT_OF=$ROOT
fi

# --- run ----------------------------------------------------------------------------------------
command_line="bash bench/run.sh${*:+ $*}"
status=0
timeout --signal=TERM --kill-after=20 "${BENCH_TIMEOUT:-1800}" \
  "$PY" bench/hallq_bench.py "$@" ${REDIS_PID:+--redis-pid "$REDIS_PID"} \
  --command "$command_line" || status=$?
echo "bench: finished in $(( $(date +%s) - started )) s (raw output in $BENCH_WORK)"
exit $status

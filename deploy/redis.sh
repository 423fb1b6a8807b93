#!/usr/bin/env bash
# Redis for development and CI, from Debian's redis-server package.
#   deploy/redis.sh install|start|stop|status
# Env: REDIS_PORT (6379), HALL_HOME (<repo>/.hall).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HALL_HOME="${HALL_HOME:-$ROOT/.hall}"
PORT="${REDIS_PORT:-6379}"
DIR="$HALL_HOME/redis"
LOG="$HALL_HOME/logs/redis.log"
PIDFILE="$HALL_HOME/run/redis.pid"

# timeout: redis-cli waits forever if something that is not redis holds the port.
answers() { [[ "$(timeout 3 redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null)" == PONG ]]; }

# True while PID is a live redis-server (guards against a stale pid file whose PID
# was reused by something else).
alive() { grep -qs 'redis-server' "/proc/$1/cmdline"; }

running_pid() {
  local pid
  pid="$(cat "$PIDFILE" 2>/dev/null)" || return 1
  [[ -n "$pid" ]] && alive "$pid" && echo "$pid"
}

install() {
  if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
    echo "redis: $(redis-server --version | cut -d' ' -f1-3) already installed"
    return
  fi
  local sudo=()
  [[ "$(id -u)" == 0 ]] || sudo=(sudo)
  echo "redis: installing redis-server with apt-get ..."
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server
  # Where systemd runs, the package also starts a system-wide redis on 6379; `start`
  # then finds it answering and uses it instead of starting our own.
}

start() {
  install
  # Personal data lives in the AOF (sealed, but still): directories 0700, files 0600 (umask for what Redis creates).
  umask 077
  mkdir -p "$DIR" "$HALL_HOME/logs" "$HALL_HOME/run"
  chmod 0700 "$HALL_HOME" "$DIR" "$HALL_HOME/logs" "$HALL_HOME/run"
  chmod -R go-rwx "$DIR" "$HALL_HOME/logs" 2>/dev/null || true  # files may go meanwhile (AOF rewrite)
  if answers; then
    echo "redis: already running on 127.0.0.1:$PORT"
    return
  fi
  # Durability comes from the append-only file (in $DIR); no RDB snapshots.
  # Not --daemonize: started in its own session (survives this shell) but still our
  # child, so its PID is known at once and an early exit (port taken) is seen at once.
  # Early errors (bad option) go to stderr, the rest to --logfile: both end up in $LOG.
  # shellcheck disable=SC2094
  setsid redis-server --bind 127.0.0.1 --port "$PORT" --dir "$DIR" \
    --appendonly yes --save '' --pidfile "$PIDFILE" --logfile "$LOG" \
    </dev/null >>"$LOG" 2>&1 &
  local pid=$!
  echo "$pid" >"$PIDFILE"
  for _ in $(seq 60); do
    if answers; then
      echo "redis: ready on 127.0.0.1:$PORT (pid $pid, log $LOG)"
      return
    fi
    alive "$pid" || break
    sleep 0.5
  done
  echo "redis: did not answer PING; last log lines ($LOG):" >&2
  tail -n 20 "$LOG" >&2
  stop >/dev/null
  exit 1
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PIDFILE"
    echo "redis: not running"
    return
  fi
  kill -TERM "$pid"  # redis shuts down cleanly on TERM (flushes the AOF)
  for _ in $(seq 60); do
    alive "$pid" || break
    sleep 0.5
  done
  if alive "$pid"; then
    echo "redis: still up after 30 s, killing pid $pid"
    kill -KILL "$pid"
  fi
  rm -f "$PIDFILE"
  echo "redis: stopped"
}

status() {
  local pid
  if pid="$(running_pid)"; then
    echo "redis  running  pid $pid  127.0.0.1:$PORT"
  elif command -v redis-cli >/dev/null && answers; then
    echo "redis  running  pid ?  127.0.0.1:$PORT  (not started by this script)"
  else
    echo "redis  stopped"
  fi
}

case "${1:-}" in
  install | start | stop | status) "$1" ;;
  *)
    echo "usage: $0 install|start|stop|status" >&2
    exit 2
    ;;
esac

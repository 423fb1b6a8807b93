#!/usr/bin/env bash
# Zipkin 3.5.1 (in-memory storage, UI at /zipkin/, API at /api/v2/) for the traces of a hall that ./hall up runs.
# No image: the server's executable jar (io.zipkin:zipkin-server:3.5.1, classifier exec) comes from Maven Central.
#   deploy/zipkin.sh fetch|start|stop|status
# Env: ZIPKIN_PORT (9411), HALL_HOME (<repo>/.hall), HALL_CACHE (~/.cache/service-hall, where the jar is kept).
# It listens on 127.0.0.1 only (Zipkin itself would listen on every interface), keeps at most ZIPKIN_MAX_SPANS
# spans (100000) in memory and forgets them when it stops.
set -euo pipefail

ZIPKIN_VERSION=3.5.1
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HALL_HOME="${HALL_HOME:-$ROOT/.hall}"
HALL_CACHE="${HALL_CACHE:-$HOME/.cache/service-hall}"
PORT="${ZIPKIN_PORT:-9411}"
MAX_SPANS="${ZIPKIN_MAX_SPANS:-100000}"
JAR="$HALL_CACHE/zipkin-$ZIPKIN_VERSION/zipkin-server-$ZIPKIN_VERSION-exec.jar"
LOG="$HALL_HOME/logs/zipkin.log"
PIDFILE="$HALL_HOME/run/zipkin.pid"

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

# True while PID is our Zipkin JVM (not a zombie, not a reused PID).
alive() { grep -qs "zipkin-server-$ZIPKIN_VERSION-exec.jar" "/proc/$1/cmdline"; }

running_pid() {  # prints the PID from the pid file if that process is our Zipkin
  local pid
  pid="$(cat "$PIDFILE" 2>/dev/null)" || return 1
  [[ -n "$pid" ]] && alive "$pid" && echo "$pid"
}

fetch() {
  if [[ -s "$JAR" ]]; then
    echo "zipkin: jar already in $JAR"
    return
  fi
  echo "zipkin: copying zipkin-server $ZIPKIN_VERSION (exec jar, about 130 MB) from Maven into $(dirname "$JAR") ..."
  mkdir -p "$(dirname "$JAR")"
  local tmp
  tmp="$(mktemp -d "$(dirname "$JAR")/fetch.tmp.XXXXXX")"
  # Copied into a temp dir and renamed at the end, so an interrupted download is never used. Run from the temp
  # dir: dependency:copy needs no project. Maven's output is shown only on failure.
  if ! (cd "$tmp" && mvn -q -B dependency:copy -Dartifact="io.zipkin:zipkin-server:$ZIPKIN_VERSION:jar:exec" \
      -DoutputDirectory="$tmp/out" -Dmdep.overWriteReleases=true) >"$tmp.log" 2>&1 ||
      [[ ! -s "$tmp/out/zipkin-server-$ZIPKIN_VERSION-exec.jar" ]]; then
    cat "$tmp.log" >&2
    rm -rf "$tmp" "$tmp.log"
    echo "zipkin: maven copy of io.zipkin:zipkin-server:$ZIPKIN_VERSION:jar:exec failed" >&2
    exit 1
  fi
  mv "$tmp/out/zipkin-server-$ZIPKIN_VERSION-exec.jar" "$JAR"
  rm -rf "$tmp" "$tmp.log"
  echo "zipkin: $(du -h "$JAR" | cut -f1) in $JAR"
}

start() {
  fetch
  umask 077
  mkdir -p "$HALL_HOME/logs" "$HALL_HOME/run"
  if pid="$(running_pid)"; then
    echo "zipkin: already running (pid $pid) on http://127.0.0.1:$PORT/zipkin/"
    return
  fi
  if answers; then
    echo "zipkin: port $PORT is taken by another process (ZIPKIN_PORT picks another)" >&2
    exit 1
  fi
  local offset
  offset=$(($(stat -c %s "$LOG" 2>/dev/null || echo 0) + 1))
  # armeria.ports[0].ip: loopback only. STORAGE_TYPE=mem: spans in memory, at most MEM_MAX_SPANS.
  # setsid: own session, so Zipkin outlives this shell and its process group.
  # The UI and the API look back 7 days by default (a case's traces, from its search link), not 15 min and 1 day.
  STORAGE_TYPE=mem MEM_MAX_SPANS="$MAX_SPANS" QUERY_PORT="$PORT" QUERY_LOOKBACK=604800000 \
    ZIPKIN_UI_DEFAULT_LOOKBACK=604800000 \
    setsid nohup java -Xms64m -Xmx384m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -jar "$JAR" '--armeria.ports[0].ip=127.0.0.1' "--armeria.ports[0].port=$PORT" \
    '--armeria.ports[0].protocols[0]=http' --logging.level.root=WARN \
    >>"$LOG" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$PIDFILE"
  echo "zipkin: starting (pid $pid, log $LOG)"
  for _ in $(seq 240); do
    if answers && curl -fsS -o /dev/null "http://127.0.0.1:$PORT/health" 2>/dev/null; then
      echo "zipkin: ready on http://127.0.0.1:$PORT/zipkin/"
      return
    fi
    alive "$pid" || break
    sleep 0.5
  done
  echo "zipkin: did not come up; the log's tail ($LOG):" >&2
  tail -c +"$offset" "$LOG" | tail -n 25 >&2
  stop >/dev/null
  exit 1
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PIDFILE"
    echo "zipkin: not running"
    return
  fi
  kill -TERM "$pid"
  for _ in $(seq 40); do
    alive "$pid" || break
    sleep 0.5
  done
  if alive "$pid"; then
    echo "zipkin: still up after 20 s, killing pid $pid"
    kill -KILL "$pid"
  fi
  rm -f "$PIDFILE"
  echo "zipkin: stopped"
}

status() {
  local pid
  if pid="$(running_pid)"; then
    echo "zipkin  running  pid $pid  http://127.0.0.1:$PORT/zipkin/"
  elif answers; then
    echo "zipkin  running  pid ?  127.0.0.1:$PORT  (not started by this script)"
  else
    echo "zipkin  stopped"
  fi
}

case "${1:-}" in
  fetch | start | stop | status) "$1" ;;
  *)
    echo "usage: $0 fetch|start|stop|status" >&2
    exit 2
    ;;
esac

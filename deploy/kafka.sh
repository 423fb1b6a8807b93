#!/usr/bin/env bash
# Single-node Kafka 4.1.1 (KRaft, broker+controller in one JVM) for development and CI.
# No tarball: the broker's jars come from Maven Central via deploy/kafka/pom.xml.
#   deploy/kafka.sh fetch|start|stop|status
# Env: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093), HALL_HOME (<repo>/.hall),
#      HALL_CACHE (~/.cache/service-hall, where the jars are kept).
set -euo pipefail

KAFKA_VERSION=4.1.1
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HALL_HOME="${HALL_HOME:-$ROOT/.hall}"
HALL_CACHE="${HALL_CACHE:-$HOME/.cache/service-hall}"
PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
LIBS="$HALL_CACHE/kafka-$KAFKA_VERSION/libs"
KDIR="$HALL_HOME/kafka"
DATA="$KDIR/data"
LOG="$HALL_HOME/logs/kafka.log"
PIDFILE="$HALL_HOME/run/kafka.pid"
LOG4J="$ROOT/deploy/kafka/log4j2.properties"

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

# True while PID is a live broker JVM (a zombie has an empty cmdline; kill -0 would
# still succeed on it, and the PID could have been reused by something else).
alive() { grep -qs 'kafka\.Kafka' "/proc/$1/cmdline"; }

running_pid() {  # prints the PID from the pid file if that process is our broker
  local pid
  pid="$(cat "$PIDFILE" 2>/dev/null)" || return 1
  [[ -n "$pid" ]] && alive "$pid" && echo "$pid"
}

fetch() {
  if compgen -G "$LIBS/kafka_2.13-*.jar" >/dev/null; then
    echo "kafka: jars already in $LIBS"
    return
  fi
  echo "kafka: copying Kafka $KAFKA_VERSION jars from Maven into $LIBS ..."
  mkdir -p "$(dirname "$LIBS")"
  local tmp
  tmp="$(mktemp -d "$(dirname "$LIBS")/libs.tmp.XXXXXX")"
  # Copy into a temp dir and rename at the end, so an interrupted download is never used.
  # Maven's output is kept aside (Debian's 3.8 prints stray ANSI resets even with -q -B)
  # and shown only on failure.
  if ! mvn -q -B -f "$ROOT/deploy/kafka/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$tmp" >"$tmp.log" 2>&1; then
    cat "$tmp.log" >&2
    rm -rf "$tmp" "$tmp.log"
    echo "kafka: maven copy failed" >&2
    exit 1
  fi
  rm -f "$tmp.log"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  echo "kafka: $(find "$LIBS" -name '*.jar' | wc -l) jars in $LIBS"
}

write_config() {
  cat >"$KDIR/server.properties" <<EOF
# Written by deploy/kafka.sh on every start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DATA
num.partitions=3
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
# One broker: every internal topic must live with a single replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Small machine (2 cores): fewer threads and internal partitions than the defaults.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
background.threads=4
offsets.topic.num.partitions=10
transaction.state.log.num.partitions=10
# Keep dev data small: 7 days or 256 MiB per partition, 64 MiB segments.
log.retention.hours=168
log.retention.bytes=268435456
log.segment.bytes=67108864
EOF
}

start() {
  fetch
  # Topics hold personal data (sealed, but still): directories 0700, files 0600 (umask for what Kafka creates).
  umask 077
  mkdir -p "$KDIR" "$DATA" "$HALL_HOME/logs" "$HALL_HOME/run"
  chmod 0700 "$HALL_HOME" "$KDIR" "$DATA" "$HALL_HOME/logs" "$HALL_HOME/run"
  chmod -R go-rwx "$KDIR" 2>/dev/null || true  # a running broker deletes files meanwhile
  if answers; then
    echo "kafka: already running on 127.0.0.1:$PORT"
    return
  fi
  write_config
  local java=(java -cp "$LIBS/*" -Dlog4j2.configurationFile="$LOG4J")
  if [[ ! -f "$DATA/meta.properties" ]]; then
    [[ -s "$KDIR/cluster.id" ]] ||
      "${java[@]}" kafka.tools.StorageTool random-uuid | tail -n1 >"$KDIR/cluster.id"
    echo "kafka: formatting $DATA (cluster id $(cat "$KDIR/cluster.id"))"
    # --standalone: this node alone forms the dynamic controller quorum.
    "${java[@]}" kafka.tools.StorageTool format --standalone \
      -t "$(cat "$KDIR/cluster.id")" -c "$KDIR/server.properties" >>"$LOG" 2>&1
  fi
  # Only the log written by this start counts when looking for the "started" line.
  local offset
  offset=$(($(stat -c %s "$LOG" 2>/dev/null || echo 0) + 1))
  # setsid: own session, so the broker outlives this shell and its process group.
  setsid nohup "${java[@]}" -Xms512m -Xmx1g -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true kafka.Kafka "$KDIR/server.properties" \
    >>"$LOG" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$PIDFILE"
  echo "kafka: starting (pid $pid, log $LOG)"
  for _ in $(seq 180); do
    # The broker logs "Kafka Server started" once it is registered and unfenced,
    # i.e. ready for clients. (No grep -q: quitting early would SIGPIPE tail and,
    # under pipefail, turn a match into a failure.)
    if tail -c +"$offset" "$LOG" | grep 'Kafka Server started' >/dev/null && answers; then
      echo "kafka: ready on 127.0.0.1:$PORT"
      return
    fi
    alive "$pid" || break
    sleep 0.5
  done
  echo "kafka: did not come up; errors, then the log's tail ($LOG):" >&2
  tail -c +"$offset" "$LOG" | grep -m5 -E '^\[[^]]*\] (ERROR|FATAL)' >&2 || true
  tail -n 25 "$LOG" >&2
  stop >/dev/null  # do not leave a half-started broker behind
  exit 1
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PIDFILE"
    echo "kafka: not running"
    return
  fi
  kill -TERM "$pid"
  for _ in $(seq 60); do
    alive "$pid" || break
    sleep 0.5
  done
  if alive "$pid"; then
    echo "kafka: still up after 30 s, killing pid $pid"
    kill -KILL "$pid"
  fi
  rm -f "$PIDFILE"
  echo "kafka: stopped"
}

status() {
  local pid
  if pid="$(running_pid)"; then
    echo "kafka  running  pid $pid  127.0.0.1:$PORT"
  elif answers; then
    echo "kafka  running  pid ?  127.0.0.1:$PORT  (not started by this script)"
  else
    echo "kafka  stopped"
  fi
}

case "${1:-}" in
  fetch | start | stop | status) "$1" ;;
  *)
    echo "usage: $0 fetch|start|stop|status" >&2
    exit 2
    ;;
esac

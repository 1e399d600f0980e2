#!/usr/bin/env bash
# Makes sure the services the tests use are up on 127.0.0.1: Redis (6379) and
# PostgreSQL (5432). Starts the machine's own when they are not answering.
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

for _ in $(seq 1 50); do
  port_open 6379 && port_open 5432 && exit 0
  sleep 0.2
done
echo "services did not come up" >&2
exit 1

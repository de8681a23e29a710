#!/usr/bin/env bash
# Check the machine's PostgreSQL, Redis and RabbitMQ; start whichever is down; create our databases.
# Idempotent and quiet when all is well. Used by `make test`, `make run` and `make up`.
set -euo pipefail

wait_for() {  # wait_for NAME TRIES CMD...
  local name=$1 tries=$2; shift 2
  for _ in $(seq "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  echo "services: $name did not come up" >&2; return 1
}

if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  echo "services: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
  wait_for postgresql 30 pg_isready -h 127.0.0.1 -p 5432 -q
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "services: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for redis 30 redis-cli -h 127.0.0.1 -p 6379 ping
fi

# RabbitMQ is the optional broker (BROKER=rabbitmq); start it when it is installed but down, never fail on it.
if command -v rabbitmq-server >/dev/null 2>&1 && ! (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then
  echo "services: starting RabbitMQ (optional broker)"
  rabbitmq-server -detached >/dev/null 2>&1 || true
fi

for db in pinglass; do
  if ! psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
    createdb -h 127.0.0.1 -U postgres "$db"
    echo "services: created database $db"
  fi
done

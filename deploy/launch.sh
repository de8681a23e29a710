#!/usr/bin/env bash
# The Procfile's launcher: `deploy/launch.sh web|hooks|uploads|worker|scheduler|release|sandbox` runs that role the way a
# Heroku-style platform should, with the set-up the bare commands lack:
# - PROMETHEUS_MULTIPROC_DIR: prometheus_client picks its multiprocess mode when it is imported, so the variable
#   must exist before Python starts; unset, it defaults to $TMPDIR/pinglass-metrics (created here), shared by every
#   role of one machine (a dyno, a VM) so /metrics sums the web's and the workers' processes. Files left by dead
#   processes (`<kind>_<pid>.db`) are removed at boot; a live process's files are kept.
# - web: binds 0.0.0.0:$PORT when the platform gives $PORT, else 127.0.0.1:${WEB_PORT:-8000} (local runs).
# - hooks: the same web app for the providers' callbacks (CALLBACK_BASE_URL points at it), on its own processes so
#   a burst of selfie uploads on the web never holds up a pre-checkout answer; $PORT, else 127.0.0.1:${HOOKS_PORT:-8001}.
# - uploads: the same web app for the Mini App's selfie uploads (UPLOADS_BASE_URL points at it), on its own processes
#   so a crowd checking selfies never slows everyone's reads; $PORT, else 127.0.0.1:${UPLOADS_PORT:-8002}.
# - worker: with WORKER_METRICS_PORT, a metrics server for this host (workers/metrics_server.py) as a Dramatiq fork;
#   --worker-shutdown-timeout ${WORKER_SHUTDOWN_TIMEOUT_MS:-20000} ms. Platforms send SIGTERM and
#   SIGKILL 30 s later; Dramatiq's default (600 s) would be cut by the SIGKILL mid-message. Within the timeout the
#   in-flight messages finish and are acked; what is still running after it is left unacked and comes back to
#   another worker (workers/broker.py's heartbeat), and every actor is exactly-once (actors/unit.py), so it is
#   redone without a double effect. tests/scenario/test_worker_sigterm.py runs this line.
# - worker, scheduler, uploads (the batch roles) run at CPU nice ${BATCH_NICE:-10} (0 = off): on a host they share
#   with the web (one VM, docker compose) they yield the cores to the people's reads; alone on a dyno it changes
#   nothing. With the kernel's autogroup scheduling a nice value ranks a process only within its session, so when
#   this process leads its session the session's own weight (/proc/self/autogroup) is lowered too.
#   docs/deploy.md "Sharing a host".
set -euo pipefail
role="${1:?usage: deploy/launch.sh web|hooks|uploads|worker|scheduler|release|sandbox}"

nice=()
if [[ "$role" =~ ^(worker|scheduler|uploads)$ && "${BATCH_NICE:-10}" =~ ^[1-9][0-9]*$ ]]; then
    nice=(nice -n "${BATCH_NICE:-10}")
    read -r -a stat < /proc/$$/stat 2>/dev/null || stat=()
    if [[ "${stat[5]:-}" == "$$" ]]; then echo "${BATCH_NICE:-10}" 2>/dev/null > /proc/$$/autogroup || true; fi
fi

export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-${TMPDIR:-/tmp}/pinglass-metrics}"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
for file in "$PROMETHEUS_MULTIPROC_DIR"/*_*.db; do
    [[ -e "$file" ]] || continue
    pid="${file##*_}"; pid="${pid%.db}"
    if [[ "$pid" =~ ^[0-9]+$ ]] && ! kill -0 "$pid" 2>/dev/null; then rm -f "$file"; fi
done

case "$role" in
    web)
        if [[ -n "${PORT:-}" ]]; then bind="0.0.0.0:${PORT}"; else bind="127.0.0.1:${WEB_PORT:-8000}"; fi
        exec gunicorn 'web.wsgi:build()' --config python:web.gunicorn_conf --bind "$bind" \
            --workers "${WEB_WORKERS:-2}" --threads "${WEB_THREADS:-16}" --timeout 60 ;;
    hooks)
        if [[ -n "${PORT:-}" ]]; then bind="0.0.0.0:${PORT}"; else bind="127.0.0.1:${HOOKS_PORT:-8001}"; fi
        exec gunicorn 'web.wsgi:build()' --config python:web.gunicorn_conf --bind "$bind" \
            --workers "${HOOKS_WORKERS:-1}" --threads 4 --timeout 60 ;;
    uploads)
        if [[ -n "${PORT:-}" ]]; then bind="0.0.0.0:${PORT}"; else bind="127.0.0.1:${UPLOADS_PORT:-8002}"; fi
        exec "${nice[@]}" gunicorn 'web.wsgi:build()' --config python:web.gunicorn_conf --bind "$bind" \
            --workers "${UPLOADS_WORKERS:-2}" --threads "${WEB_THREADS:-16}" --timeout 60 ;;
    worker)
        # A host without a web exposes its workers' metrics itself (workers/metrics_server.py).
        metrics=()
        if [[ -n "${WORKER_METRICS_PORT:-}" ]]; then metrics=(--fork-function workers.metrics_server:serve); fi
        # Dramatiq's command line, its parent process logging JSON like the rest (workers/dramatiq_cli.py).
        exec "${nice[@]}" python -m workers.dramatiq_cli workers.main --processes "${WORKER_PROCESSES:-2}" --threads "${WORKER_THREADS:-8}" \
            --worker-shutdown-timeout "${WORKER_SHUTDOWN_TIMEOUT_MS:-20000}" "${metrics[@]}" ;;
    scheduler) exec "${nice[@]}" python -m workers.scheduler ;;
    release) exec python -m db.migrate up ;;
    sandbox) exec python -m sandbox ;;
    *) echo "deploy/launch.sh: unknown role $role" >&2; exit 2 ;;
esac

#!/bin/sh
# PID 1 of the web service: nginx in the foreground, drained before it stops.
# On SIGTERM: /healthz answers 503 (HAProxy's check, inter 1s fall 2, takes this task out of rotation)
# while nginx keeps serving for DRAIN_SECONDS; then nginx quits gracefully (SIGQUIT: in-flight requests
# finish). Docker's stop grace period must be longer than DRAIN_SECONDS.
set -u
DRAIN_FILE=/run/nginx-draining
rm -f "$DRAIN_FILE"
nginx -g 'daemon off;' &
pid=$!
drain() {
  touch "$DRAIN_FILE"
  sleep "${DRAIN_SECONDS:-0}"
  kill -QUIT "$pid" 2>/dev/null
}
trap drain TERM INT
wait "$pid"   # returns early when a trapped signal arrives; the trap drains, then wait for nginx to exit
status=$?
if [ -e "$DRAIN_FILE" ]; then
  wait "$pid"
  status=$?
fi
exit "$status"

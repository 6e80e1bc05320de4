#!/usr/bin/env bash
# A short chaos run (tests/chaos/chaos.py; `make chaos` is the long one):
# 20 feeds of 10 items served by nginx and listed gradually, the four real
# daemons, one of them SIGKILLed and restarted every 1-2 s for 30 s. Fails
# when an item is missing from the store or stored twice, when an alert
# that classify says must fire was not delivered or was delivered twice,
# when a daemon crashed or did not stop cleanly. Skips (77) without nginx
# or /usr/bin/python3. Takes about 40 s.
set -euo pipefail
SRC=${NM_SOURCE_DIR:?}
export NM_BUILD_DIR=${NM_BUILD_DIR:?}
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "SKIP: /usr/bin/python3 is missing"; exit 77; }
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "SKIP: nginx is not installed"; exit 77; }
exec "$PY" "$SRC/tests/chaos/chaos.py" --feeds 20 --items 10 --duration 30 --kill-min 1 --kill-max 2 \
    --drain-timeout 90 ${CHAOS_SEED:+--seed "$CHAOS_SEED"}

#!/usr/bin/env bash
# make demo: the demo hub on :8080 and the demo pages on :8000, sharing one PHP session store.
set -euo pipefail
cd "$(dirname "$0")"
PHP=${PHP:-php}
export DEMO_HUB_PORT=${DEMO_HUB_PORT:-8080}
export DEMO_SESSION_DIR=${DEMO_SESSION_DIR:-$(mktemp -d -t pybroadcast-demo.XXXXXX)}
WEB_PORT=${DEMO_WEB_PORT:-8000}
export SERVER_ADDRESS=${SERVER_ADDRESS:-:$DEMO_HUB_PORT}
export ALLOWED_ORIGINS=${ALLOWED_ORIGINS:-"http://localhost:$WEB_PORT http://127.0.0.1:$WEB_PORT"}
export PYBROADCAST_SOCKET=${PYBROADCAST_SOCKET:-$DEMO_SESSION_DIR/hub.sock}
# The Pusher HTTP API's secret, shared by the hub and send.php (fresh every run: demo only).
export PUSHER_APP_SECRET=${PUSHER_APP_SECRET:-demo-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')}

$PHP server.php &
hub=$!
$PHP -d "pybroadcast.socket=$PYBROADCAST_SOCKET" -S "0.0.0.0:$WEB_PORT" -t . >/dev/null 2>&1 &
web=$!
trap 'kill -TERM $hub $web 2>/dev/null; wait $hub $web 2>/dev/null' EXIT INT TERM
echo
echo "  pybroadcast demo: open http://localhost:$WEB_PORT/login.php?user=alice"
echo "  (and http://127.0.0.1:$WEB_PORT/login.php?user=bob in another browser to chat);"
echo "  the same chat with Laravel Echo: http://localhost:$WEB_PORT/echo.php (both live at once)"
echo "  Ctrl-C stops both."
echo
wait $hub

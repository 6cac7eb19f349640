#!/usr/bin/env bash
# bench/app.mjs under Xvfb on a private D-Bus session, as the e2e tests run the app.
set -euo pipefail
cd "$(dirname "$0")/.."
export WEBKIT_DISABLE_DMABUF_RENDERER=1 LIBGL_ALWAYS_SOFTWARE=1 NO_AT_BRIDGE=1
export XDG_DATA_HOME="$(mktemp -d)"
exec xvfb-run -a -s "-screen 0 1280x820x24" dbus-run-session -- node bench/app.mjs "$@"

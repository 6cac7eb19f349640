#!/usr/bin/env bash
# Runs the end-to-end tests: the real app window under Xvfb, on a private D-Bus session with an
# unlocked gnome-keyring, driven over WebDriver (tauri-driver + WebKitWebDriver).
set -euo pipefail
cd "$(dirname "$0")/../.."
export E2E_ARTIFACTS="${E2E_ARTIFACTS:-$PWD/target/e2e-artifacts}"
rm -rf "$E2E_ARTIFACTS"
export XDG_DATA_HOME="$(mktemp -d)"  # the test keyring's files stay out of the real HOME
export WEBKIT_DISABLE_DMABUF_RENDERER=1 LIBGL_ALWAYS_SOFTWARE=1 NO_AT_BRIDGE=1
status=0
xvfb-run -a -s "-screen 0 1280x820x24" dbus-run-session -- sh -c \
  'echo -n e2e | gnome-keyring-daemon --unlock --components=secrets >/dev/null; node --test --test-concurrency=1 ${E2E_ONLY:-tests/e2e/}' || status=$?
if [ "$status" -ne 0 ]; then
  echo "e2e failed: screenshots and logs in $E2E_ARTIFACTS"
fi
exit "$status"

#!/usr/bin/env bash
# Checks the .deb's Maintainer and that the .rpm beside it holds the same files (read with Debian's
# rpm tool). Installs the .deb in dist/ with apt as a user would, starts the installed app under Xvfb and waits
# for its window, asks the installed CLI for its version, then removes the package and checks that
# nothing it installed is left, while the user's own data is. Needs root (apt) and `make dist` first.
set -euo pipefail
cd "$(dirname "$0")/.."
deb=$(ls -t dist/*_amd64.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { echo "test-dist: no .deb in dist/: run \`make dist\` first" >&2; exit 1; }
version=$(dpkg-deb -f "$deb" Version)
pkg=$(dpkg-deb -f "$deb" Package)
fail() { echo "test-dist: FAIL: $*" >&2; exit 1; }

export DEBIAN_FRONTEND=noninteractive
maintainer=$(dpkg-deb -f "$deb" Maintainer)
[[ "$maintainer" =~ ^[^\<]+\ \<[^@\>]+@[^\>]+\>$ ]] || fail "the .deb's Maintainer is \"$maintainer\", not a name with an address"

# The .rpm holds what the .deb holds, zsh's completion where RPM distributions keep it. Read with
# Debian's rpm tool (installing the .rpm itself needs an RPM distribution).
rpm=$(ls -t dist/*.x86_64.rpm 2>/dev/null | head -1)
[ -n "$rpm" ] || fail "no .rpm in dist/: run \`make dist\` first"
command -v rpm >/dev/null || apt-get install -y -qq rpm >/dev/null
[ "$(rpm -qp --qf '%{VERSION}' "$rpm" 2>/dev/null)" = "$version" ] || fail "$rpm is not version $version"
# Files only: each package format lists the directories it owns differently.
deb_files=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print "/" $6}' | sed 's#/zsh/vendor-completions/#/zsh/site-functions/#' | sort)
rpm_files=$(rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$rpm" 2>/dev/null | awk '$1 !~ /^d/ {print $2}' | sort)
[ "$deb_files" = "$rpm_files" ] \
  || fail "the .rpm and the .deb hold different files: $(diff <(echo "$deb_files") <(echo "$rpm_files") | grep '^[<>]' | head -5 | tr '\n' ' ')"

apt-get install -y -qq "./$deb" >/dev/null
files=$(dpkg -L "$pkg")
trap 'apt-get remove --purge -y -qq "$pkg" >/dev/null 2>&1 || true' EXIT

# The CLI, its man page and completions, where the package says.
[ "$(/usr/bin/godwit --version)" = "godwit $version" ] || fail "/usr/bin/godwit --version: $(/usr/bin/godwit --version)"
for f in /usr/share/man/man1/godwit.1.gz /usr/share/man/man1/godwit-up.1.gz \
         /usr/share/bash-completion/completions/godwit /usr/share/zsh/vendor-completions/_godwit \
         /usr/share/fish/vendor_completions.d/godwit.fish /usr/share/applications/Godwit.desktop; do
  [ -s "$f" ] || fail "$f is missing"
done
app=$(grep -m1 '^Exec=' /usr/share/applications/Godwit.desktop | sed 's/^Exec=//; s/ .*//')
[ -x "$(command -v "$app")" ] || fail "the desktop entry runs $app, which is not installed"

# The installed app, started as the desktop entry starts it, with a home of its own.
home=$(mktemp -d)
export WEBKIT_DISABLE_DMABUF_RENDERER=1 LIBGL_ALWAYS_SOFTWARE=1 NO_AT_BRIDGE=1
HOME="$home" xvfb-run -a -s "-screen 0 1280x820x24" dbus-run-session -- sh -c '
  "$0" & pid=$!
  shot=$(mktemp --suffix=.png)
  # The window, then its first screen drawn (a blank page is one colour; the first screen, many).
  for _ in $(seq 1 100); do
    if xwininfo -root -tree 2>/dev/null | grep -q "\"Godwit\""; then
      import -window root "$shot" 2>/dev/null
      if [ "$(convert "$shot" -format %k info: 2>/dev/null || echo 0)" -gt 20 ]; then
        cp "$shot" "$1"; rm -f "$shot"; kill $pid; exit 0
      fi
    fi
    sleep 0.2
  done
  rm -f "$shot"; kill $pid 2>/dev/null; exit 1' "$app" "${SCREENSHOT:-/dev/null}" || fail "the installed app showed no window named Godwit with its first screen within 20 s"
# The web view keeps the window's own data (the last environment of each project) here.
kept="$home/.local/share/$(node -p "require('./src-tauri/tauri.conf.json').identifier")"
[ -d "$kept" ] || fail "the app kept nothing in $kept"

apt-get remove --purge -y -qq "$pkg" >/dev/null
trap - EXIT
left=""
for f in $files; do
  [ -f "$f" ] && left="$left $f"
done
[ -z "$left" ] || fail "left behind after removal:$left"
[ -d "$kept" ] || fail "removing the package took the user's data ($kept)"
rm -rf "$home"
echo "test-dist: $deb installs, starts, answers and removes cleanly"

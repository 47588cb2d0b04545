#!/usr/bin/env bash
# Installs what MemoryService needs on Debian/Ubuntu: checks the .NET SDK, installs the PostgreSQL
# server, pgvector and curl + jq (the README walkthrough); with --tests also chromium + chromium-driver (the explorer's
# browser tests) and nodejs + npm (the TypeScript SDK's tests). Idempotent: a second run only checks and takes seconds.
set -euo pipefail

log() { printf '[prereqs] %s\n' "$*" >&2; }
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# --- .NET SDK -----------------------------------------------------------------------------------
if ! command -v dotnet >/dev/null 2>&1 || ! dotnet --list-sdks 2>/dev/null | grep -q '^10\.'; then
  log ".NET 10 SDK not found; trying the distribution's dotnet-sdk-10.0 package"
  $SUDO apt-get update -qq || true
  if apt-cache policy dotnet-sdk-10.0 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    $SUDO apt-get install -y -qq dotnet-sdk-10.0 >/dev/null
  else
    log "ERROR: the .NET 10 SDK is required and no package source configured on this machine provides it (package dotnet-sdk-10.0): add one that does, then run this again"
    exit 1
  fi
fi

# --- PostgreSQL server --------------------------------------------------------------------------
apt_updated=0
apt_update() { if [ "$apt_updated" -eq 0 ]; then $SUDO apt-get update -qq; apt_updated=1; fi; }

pg_bindir() { pg_config --bindir 2>/dev/null || true; }
if ! command -v pg_config >/dev/null 2>&1 || [ ! -x "$(pg_bindir)/initdb" ]; then
  log "installing the PostgreSQL server"
  apt_update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql postgresql-contrib >/dev/null
fi
# Debian's pg_config may belong to the client only; prefer the newest installed server.
PGVER=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1)
[ -n "$PGVER" ] || { log "ERROR: no PostgreSQL server found under /usr/lib/postgresql"; exit 1; }
PGBIN=/usr/lib/postgresql/$PGVER/bin

# --- curl and jq (the README walkthrough and its test) -------------------------------------------
tools=()
for tool in curl jq; do command -v "$tool" >/dev/null 2>&1 || tools+=("$tool"); done
if [ "${#tools[@]}" -gt 0 ]; then
  log "installing ${tools[*]}"
  apt_update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${tools[@]}" >/dev/null
fi

# --- tzdata (IANA time zones for time_zone on extract and chat; .NET reads /usr/share/zoneinfo) -----
if [ ! -e /usr/share/zoneinfo/America/Los_Angeles ]; then
  log "installing tzdata"
  apt_update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq tzdata >/dev/null
fi

# --- chromium + chromium-driver (the explorer page's browser tests drive Debian's headless chromium) -------
if [ "${1:-}" = "--tests" ] && { ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; }; then
  log "installing chromium and chromium-driver"
  apt_update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# --- node + npm (the TypeScript SDK's tests: npm ci, tsc, node --test) ------------------------------------
if [ "${1:-}" = "--tests" ] && { ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; }; then
  log "installing nodejs and npm"
  apt_update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi

# --- pgvector -----------------------------------------------------------------------------------
# The service needs pgvector 0.7.0 or later (halfvec); older distributions (Ubuntu 24.04: 0.6) get a source build.
new_enough() { [ "$(printf '%s\n0.7.0\n' "$1" | sort -V | head -n 1)" = "0.7.0" ]; }
control="/usr/share/postgresql/$PGVER/extension/vector.control"
if [ -f "$control" ] && new_enough "$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$control")"; then
  log "PostgreSQL $PGVER with pgvector: present"
  exit 0
fi

apt_update
candidate=$(apt-cache policy "postgresql-$PGVER-pgvector" 2>/dev/null | sed -n 's/^ *Candidate: \([0-9][^-+~]*\).*/\1/p')
if [ -n "$candidate" ] && new_enough "$candidate"; then
  log "installing postgresql-$PGVER-pgvector"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "postgresql-$PGVER-pgvector" >/dev/null
  exit 0
fi

# No binary package: build pgvector from the next Debian release's source package (private source list and
# lists directory), fetched only from a Debian mirror this machine's apt sources already name: classic one-line
# entries (sources.list, sources.list.d/*.list) and deb822 stanzas (sources.list.d/*.sources, URIs:).
# Where there is none, stop and say what to install: never reach for a host the machine is not configured with.
debian_mirrors() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # deb [options] URI suite components: drop the options, print the URI.
    sed -nE 's/^[[:space:]]*deb(-src)?[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\3/p' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # A stanza with "Enabled: no" is skipped; URIs: may list several.
    awk 'BEGIN { RS = ""; FS = "\n" }
         { on = 1; uris = ""
           for (i = 1; i <= NF; i++) {
             if ($i ~ /^[Ee]nabled:[[:space:]]*[Nn]o/) on = 0
             if ($i ~ /^URIs:/) { u = $i; sub(/^URIs:[[:space:]]*/, "", u); uris = uris " " u }
           }
           if (on) { n = split(uris, a, /[[:space:]]+/); for (j = 1; j <= n; j++) if (a[j] != "") print a[j] } }' "$f"
  done
}
mirror=$(debian_mirrors | grep -E '^https?://[^[:space:]]+/debian/?$' | sed 's#/$##' | head -n 1 || true)
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
if [ -z "$mirror" ] || [ ! -f "$keyring" ]; then
  log "ERROR: pgvector >= 0.7.0 is required and no configured package source provides it."
  log "Install postgresql-$PGVER-pgvector (>= 0.7.0) from a source you trust, or add a Debian mirror"
  log "(with $keyring) to this machine's apt sources, then run this script again."
  exit 1
fi
log "building pgvector from Debian's source package, from the configured mirror $mirror"
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "postgresql-server-dev-$PGVER" build-essential dpkg-dev >/dev/null
work=$(mktemp -d); chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/src"
echo "deb-src [signed-by=$keyring] $mirror trixie main" > "$work/sources.list"
aptopts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=/dev/null" -o "Dir::State::Lists=$work/lists")
$SUDO apt-get "${aptopts[@]}" update -qq
(cd "$work/src" && apt-get "${aptopts[@]}" source --download-only -qq pgvector)
tarball=$(ls "$work"/src/pgvector_*.orig.tar.* | head -n 1)
tar -xf "$tarball" -C "$work/src"
srcdir=$(find "$work/src" -mindepth 1 -maxdepth 1 -type d | head -n 1)
make -s -C "$srcdir" PG_CONFIG="$PGBIN/pg_config" OPTFLAGS="" >/dev/null
$SUDO make -s -C "$srcdir" PG_CONFIG="$PGBIN/pg_config" install >/dev/null
log "pgvector installed for PostgreSQL $PGVER"

#!/usr/bin/env bash
# Installs what MemoryService needs on Debian/Ubuntu: checks the .NET SDK, installs the PostgreSQL
# server, pgvector, and curl + jq (the README walkthrough). Idempotent: a second run only checks and takes seconds.
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
    log "ERROR: the .NET 10 SDK is required (https://dotnet.microsoft.com/download) and no distribution package provides it"
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

# No binary package: build pgvector from the next Debian release's source package, fetched from the
# mirror this machine's apt sources already use, with a private source list and lists directory.
log "building pgvector from Debian's source package"
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "postgresql-server-dev-$PGVER" build-essential dpkg-dev >/dev/null
mirror=$(grep -rhoE '(https?://[^ ]+/debian)/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
  | grep -v -- '-security' | head -n 1 | tr -d ' ' | sed 's#/$##' || true)
# Ubuntu has no Debian mirror in its sources: use Debian's own, with its keyring (in Ubuntu's universe).
[ -n "$mirror" ] || mirror="http://deb.debian.org/debian"
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] \
  || DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq debian-archive-keyring >/dev/null
work=$(mktemp -d); chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/src"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" > "$work/sources.list"
aptopts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=/dev/null" -o "Dir::State::Lists=$work/lists")
$SUDO apt-get "${aptopts[@]}" update -qq
(cd "$work/src" && apt-get "${aptopts[@]}" source --download-only -qq pgvector)
tarball=$(ls "$work"/src/pgvector_*.orig.tar.* | head -n 1)
tar -xf "$tarball" -C "$work/src"
srcdir=$(find "$work/src" -mindepth 1 -maxdepth 1 -type d | head -n 1)
make -s -C "$srcdir" PG_CONFIG="$PGBIN/pg_config" OPTFLAGS="" >/dev/null
$SUDO make -s -C "$srcdir" PG_CONFIG="$PGBIN/pg_config" install >/dev/null
log "pgvector installed for PostgreSQL $PGVER"

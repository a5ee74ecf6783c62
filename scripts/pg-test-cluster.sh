#!/usr/bin/env bash
# Private, throw-away PostgreSQL 15 cluster for the test suite.
#
#   scripts/pg-test-cluster.sh start    create (once) + start; prints the SQLAlchemy URL on stdout
#   scripts/pg-test-cluster.sh stop     stop it (no-op when not running)
#   scripts/pg-test-cluster.sh url      print the URL of the running cluster (exit 1 if not running)
#   scripts/pg-test-cluster.sh status   say whether it is running (exit 0 running, 3 not running)
#   scripts/pg-test-cluster.sh destroy  stop it and delete its directory
#
# Only the URL ever goes to stdout; everything else goes to stderr, so
#   export COR_TEST_POSTGRES_URL="$(scripts/pg-test-cluster.sh start)"
# works.
#
# Layout (BASE = $COR_PG_DIR or /tmp/cor-pg-<uid of the caller>):
#   BASE/data/           PGDATA (initdb, owned by the `postgres` OS user when run as root)
#   BASE/port            the chosen TCP port, remembered between runs
#   BASE/postgres.log    server log
#   BASE/.s.PGSQL.*      unix socket (the directory is 0700, so only its owner/root can use it)
#   BASE.lock            flock serialising concurrent invocations
#
# The server listens on 127.0.0.1 only, trusts loopback connections (no password),
# and trades durability for speed (fsync/synchronous_commit/full_page_writes off).
# Never point anything valuable at it.
#
# Environment: COR_PG_DIR (cluster directory), COR_PG_BIN (PostgreSQL bin dir,
# default /usr/lib/postgresql/15/bin), COR_PG_DBNAME (default cor_test).
set -euo pipefail

PROG=pg-test-cluster
PGBIN=${COR_PG_BIN:-/usr/lib/postgresql/15/bin}
BASE=${COR_PG_DIR:-/tmp/cor-pg-$(id -u)}
DATA=$BASE/data
PORTFILE=$BASE/port
LOGFILE=$BASE/postgres.log
DBNAME=${COR_PG_DBNAME:-cor_test}

# Connections we make ourselves must not be influenced by the caller's libpq environment.
unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGPASSWORD PGSERVICE PGSERVICEFILE PGOPTIONS PGSSLMODE
export PGCONNECT_TIMEOUT=5

say() { echo "$PROG: $*" >&2; }
die() { echo "$PROG: ERROR: $*" >&2; exit 1; }

# Run a command as the cluster owner: `postgres` when we are root (initdb refuses root),
# ourselves otherwise. Always from a directory the owner can read, and without fd 9
# (our flock): a postmaster inheriting it would hold the lock for its whole life.
if [[ "$(id -u)" -eq 0 ]]; then
  OWNER=postgres
  as_owner() { (cd / && exec runuser -u postgres -- "$@" 9>&-); }
else
  OWNER=$(id -un)
  as_owner() { (cd / && exec "$@" 9>&-); }
fi

check_binaries() {
  local b
  for b in initdb pg_ctl postgres; do
    [[ -x "$PGBIN/$b" ]] || die "$PGBIN/$b not found: PostgreSQL 15 server is not installed (run scripts/ensure-system-deps.sh as root)"
  done
  for b in psql createdb pg_isready; do
    command -v "$b" >/dev/null 2>&1 || [[ -x "$PGBIN/$b" ]] || die "$b not found (install postgresql-client-15)"
  done
  if [[ "$OWNER" == postgres ]] && ! id postgres >/dev/null 2>&1; then
    die "OS user 'postgres' does not exist (it is created by the postgresql-15 package; run scripts/ensure-system-deps.sh)"
  fi
}

# Prefer the client programs of the same major version.
pgtool() {
  local t=$1; shift
  if [[ -x "$PGBIN/$t" ]]; then "$PGBIN/$t" "$@"; else "$t" "$@"; fi
}

url_for() { echo "postgresql+psycopg://postgres@127.0.0.1:$1/$DBNAME"; }

port_in_use() {
  # A successful TCP connect means someone is listening there.
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

choose_port() {
  # Stay below the Linux ephemeral range (32768+) so outgoing connections cannot grab it.
  local p i
  for i in $(seq 1 200); do
    p=$((20000 + RANDOM % 12000))
    if ! port_in_use "$p"; then echo "$p"; return 0; fi
  done
  die "could not find a free TCP port on 127.0.0.1"
}

# PID of our postmaster if it is alive, else nothing. A postmaster.pid whose PID is
# dead, or now belongs to an unrelated process (PID reuse after a reboot / new
# container), is stale.
live_postmaster_pid() {
  local pid cmd
  [[ -f "$DATA/postmaster.pid" ]] || return 1
  pid=$(head -n 1 "$DATA/postmaster.pid" 2>/dev/null || true)
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
  [[ "$cmd" == *postgres* && "$cmd" == *"$DATA"* ]] || return 1
  echo "$pid"
}

is_running() { live_postmaster_pid >/dev/null; }

wait_ready() {
  local port=$1 i
  for i in $(seq 1 120); do
    if pgtool pg_isready -q -h 127.0.0.1 -p "$port" -U postgres -d postgres; then return 0; fi
    sleep 0.25
  done
  return 1
}

remove_stale_files() {
  if [[ -f "$DATA/postmaster.pid" ]]; then
    say "removing stale $DATA/postmaster.pid"
    rm -f "$DATA/postmaster.pid"
  fi
  rm -f "$BASE"/.s.PGSQL.* 2>/dev/null || true
}

fix_ownership() {
  mkdir -p "$BASE"
  if [[ "$(stat -c %U "$BASE")" != "$OWNER" ]]; then
    if [[ "$(id -u)" -eq 0 ]]; then
      chown -R "$OWNER": "$BASE"
    else
      die "$BASE exists but is owned by $(stat -c %U "$BASE"); remove it or set COR_PG_DIR"
    fi
  fi
  chmod 700 "$BASE"
}

write_owned() { # write_owned FILE  (content on stdin), as the cluster owner
  as_owner tee "$1" >/dev/null
}

init_cluster() {
  if [[ -f "$BASE/.initialized" && "$(cat "$DATA/PG_VERSION" 2>/dev/null)" == "$("$PGBIN/postgres" -V | sed -E 's/.* ([0-9]+)[.].*/\1/')" ]]; then
    return 0
  fi
  say "creating test cluster in $DATA"
  fix_ownership
  rm -rf "$DATA" "$BASE/.initialized"
  as_owner "$PGBIN/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=trust \
    --no-locale -E UTF8 --no-sync >"$BASE/initdb.log" 2>&1 \
    || { cat "$BASE/initdb.log" >&2; die "initdb failed"; }

  # Loopback only: local socket (directory is 0700) and 127.0.0.1, no IPv6, no remote.
  write_owned "$DATA/pg_hba.conf" <<'EOF'
# cor-incentives test cluster: trust on loopback only
local   all   all                  trust
host    all   all   127.0.0.1/32   trust
EOF

  echo "include = 'cor-test.conf'" | as_owner tee -a "$DATA/postgresql.conf" >/dev/null
  as_owner touch "$BASE/.initialized"
}

# Written on every start, so setting changes here reach clusters created earlier.
write_config() {
  write_owned "$DATA/cor-test.conf" <<EOF
# cor-incentives test cluster settings (speed over durability)
listen_addresses = '127.0.0.1'
unix_socket_directories = '$BASE'
max_connections = 200
shared_buffers = 128MB
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
checkpoint_timeout = 30min
max_wal_size = 4GB
# posix DSM lives in /dev/shm, which is only 64 MB in default Docker containers
dynamic_shared_memory_type = mmap
max_parallel_workers_per_gather = 0
jit = off
timezone = 'UTC'
log_timezone = 'UTC'
datestyle = 'iso, ymd'
lc_messages = 'C'
logging_collector = off
log_min_messages = warning
log_checkpoints = off
log_min_error_statement = panic
include_if_exists = 'cor-port.conf'
EOF
}

ensure_database() {
  local port=$1 exists
  exists=$(pgtool psql -X -q -At -h 127.0.0.1 -p "$port" -U postgres -d postgres \
    -c "SELECT 1 FROM pg_database WHERE datname = '$DBNAME'") \
    || die "cannot connect to the test cluster on 127.0.0.1:$port (log: $LOGFILE)"
  if [[ "$exists" != 1 ]]; then
    pgtool createdb -h 127.0.0.1 -p "$port" -U postgres "$DBNAME" \
      || die "createdb $DBNAME failed"
  fi
}

current_port() {
  [[ -f "$PORTFILE" ]] && cat "$PORTFILE"
}

# pg_ctl start, with the postmaster detached from us: its own session (setsid), so a
# Ctrl-C aimed at the test run's process group does not shut it down mid-run, and no
# inherited file descriptors beyond 0-2 (a leaked pipe would make callers that capture
# our output, e.g. subprocess.run(capture_output=True), wait for the server to exit).
start_server() {
  (
    cd /
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if [[ "$fd" =~ ^[0-9]+$ ]] && ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    if [[ "$(id -u)" -eq 0 ]]; then
      exec runuser -u postgres -- setsid -w "$PGBIN/pg_ctl" -D "$DATA" -l "$LOGFILE" -w -t 60 start </dev/null
    else
      exec setsid -w "$PGBIN/pg_ctl" -D "$DATA" -l "$LOGFILE" -w -t 60 start </dev/null
    fi
  )
}

do_start() {
  local port attempt
  if is_running; then
    port=$(current_port) || die "cluster running but $PORTFILE is missing; run '$0 stop' then '$0 start'"
    wait_ready "$port" || die "cluster process is alive but not accepting connections on 127.0.0.1:$port (log: $LOGFILE)"
    ensure_database "$port"
    url_for "$port"
    return 0
  fi

  init_cluster
  fix_ownership
  remove_stale_files

  port=$(current_port || true)
  for attempt in 1 2 3 4 5; do
    if [[ ! "$port" =~ ^[0-9]+$ ]] || port_in_use "$port"; then
      port=$(choose_port)
    fi
    echo "$port" | write_owned "$PORTFILE"
    echo "port = $port" | write_owned "$DATA/cor-port.conf"
    write_config
    if start_server >&2; then
      wait_ready "$port" || die "server started but is not ready on 127.0.0.1:$port (log: $LOGFILE)"
      ensure_database "$port"
      say "started on 127.0.0.1:$port ($DATA)"
      url_for "$port"
      return 0
    fi
    if tail -n 30 "$LOGFILE" 2>/dev/null | grep -qiE 'could not bind|address already in use|could not create any TCP/IP sockets'; then
      say "port $port is taken, choosing another"
      port=""
      remove_stale_files
      continue
    fi
    tail -n 30 "$LOGFILE" >&2 || true
    die "pg_ctl start failed (log: $LOGFILE)"
  done
  die "could not start the server on a free port after 5 attempts (log: $LOGFILE)"
}

do_stop() {
  if ! is_running; then
    say "not running"
    return 0
  fi
  as_owner "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >&2
}

do_url() {
  local port
  is_running || die "not running (use '$0 start')"
  port=$(current_port) || die "$PORTFILE missing"
  url_for "$port"
}

main() {
  local cmd=${1:-}
  case "$cmd" in
    start|stop|url|status|destroy) ;;
    *) echo "usage: $0 start|stop|url|status|destroy" >&2; exit 2 ;;
  esac
  [[ "$cmd" == destroy || "$cmd" == stop ]] || check_binaries
  mkdir -p "$(dirname "$BASE")"
  exec 9>>"$BASE.lock"
  flock -w 300 9 || die "timed out waiting for lock $BASE.lock"
  case "$cmd" in
    start) do_start ;;
    stop) do_stop ;;
    url) do_url ;;
    status)
      if is_running; then say "running on 127.0.0.1:$(current_port) ($DATA)"; exit 0
      else say "not running"; exit 3; fi ;;
    destroy)
      do_stop
      rm -rf "$BASE"
      say "removed $BASE" ;;
  esac
}

main "$@"

#!/bin/sh
# orch's spool wrapper (PRODUCT.md §16, specs/executors.md): runs one command on a host in a process
# group of its own and records its end in a spool folder, by rename, so that the end of an attempt is a
# file and not a connection. A dropped ssh connection never ends, stops or reruns the command.
#
#   orch-spool-run.sh --version                        prints "orch-spool-run <version>"
#   orch-spool-run.sh start SPOOL ATTEMPT -- ARGV...   starts ARGV detached, prints its pgid, returns
#   orch-spool-run.sh run SPOOL ATTEMPT -- ARGV...     the same in the foreground (a Slurm batch job)
#   orch-spool-run.sh wait SPOOL                       blocks until SPOOL/exitcode exists, prints it
#
# SPOOL gets: `pgid` (the command's process group, written before it is waited on), `stdout`, `stderr`,
# and `exitcode`: "<code> <ATTEMPT>\n", code 128+N when a signal N ended it. The attempt id in the file
# lets orch refuse the end of a stale attempt. Every write of a named file is a temp file then mv.
# POSIX sh and setsid (util-linux) only: it must run on whatever a host has.
set -u
VERSION=1

die() {
  echo "orch-spool-run: $*" >&2
  exit 2
}

# Writes $2 to file $1 by rename: a reader sees the whole line or nothing.
publish() {
  printf '%s\n' "$2" >"$1.tmp" && mv -f "$1.tmp" "$1"
}

# The monitor: leads a session of its own (so the connection's hangup does not reach it), starts the
# command as the leader of another process group (so a cancel that kills that group leaves the monitor
# to record how it ended), waits, and publishes the exit code.
monitor() {
  spool=$1 attempt=$2
  shift 2
  setsid "$@" </dev/null >"$spool/stdout" 2>"$spool/stderr" &
  pid=$!
  publish "$spool/pgid" "$pid"
  wait "$pid"
  code=$?
  publish "$spool/exitcode" "$code $attempt"
  return 0
}

prepare() {
  [ $# -ge 4 ] || die "usage: $0 $1 SPOOL ATTEMPT -- ARGV..."
  [ "$4" = "--" ] || die "expected -- before the command"
  mkdir -p "$2" || die "cannot create the spool folder $2"
  [ ! -e "$2/exitcode" ] || die "$2 already holds an ended attempt: a spool folder serves one attempt"
}

case "${1:-}" in
  --version)
    echo "orch-spool-run $VERSION"
    ;;
  start)
    prepare "$@"
    spool=$2 attempt=$3
    shift 4
    rm -f "$spool/pgid"
    # nohup + setsid: the monitor outlives this script and the connection that ran it.
    nohup setsid sh "$0" run "$spool" "$attempt" -- "$@" </dev/null >/dev/null 2>&1 &
    # Returns once the command's group is known (the monitor publishes it first thing).
    tries=0
    until [ -s "$spool/pgid" ]; do
      tries=$((tries + 1))
      [ "$tries" -le 500 ] || die "the command did not start within 10 s"
      sleep 0.02
    done
    cat "$spool/pgid"
    ;;
  run)
    prepare "$@"
    spool=$2 attempt=$3
    shift 4
    monitor "$spool" "$attempt" "$@"
    ;;
  wait)
    [ $# -eq 2 ] || die "usage: $0 wait SPOOL"
    until [ -e "$2/exitcode" ]; do sleep 0.1; done
    cat "$2/exitcode"
    ;;
  *)
    die "usage: $0 --version | start SPOOL ATTEMPT -- ARGV... | run SPOOL ATTEMPT -- ARGV... | wait SPOOL"
    ;;
esac

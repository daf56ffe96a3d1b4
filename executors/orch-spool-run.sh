#!/bin/sh
# orch's spool wrapper (PRODUCT.md §16, specs/executors.md): runs one command on a host in a process
# group of its own and records its end in a spool folder, by rename, so that the end of an attempt is a
# file and not a connection. A dropped ssh connection never ends, stops or reruns the command.
#
#   orch-spool-run.sh --version                        prints "orch-spool-run <version>"
#   orch-spool-run.sh start SPOOL ATTEMPT -- ARGV...   starts ARGV detached, prints its pgid, returns
#   orch-spool-run.sh run SPOOL ATTEMPT -- ARGV...     the same in the foreground (a Slurm batch job)
#   orch-spool-run.sh wait SPOOL                       blocks until SPOOL/exitcode exists, prints it
#   orch-spool-run.sh watch ROOT                       prints "<name> <code> <attempt>" once for each
#                                                      ROOT/<name>/exitcode, as they appear; "." lines
#                                                      every 2 s (so it dies with a dropped connection)
#   orch-spool-run.sh collect SPOOL CAP                prints stdout, stderr and result.json of SPOOL,
#                                                      each as "<name> <size> <sent>\n" + <sent> bytes
#                                                      (at most CAP; size -1: no such file)
#   orch-spool-run.sh kill SPOOL GRACE                 TERM to the command's group, GRACE seconds for
#                                                      its end, then KILL to what is left of the group
#
# SPOOL gets: `pgid` (the command's process group, written before it is waited on), `stdout`, `stderr`,
# and `exitcode`: "<code> <ATTEMPT>\n", code 128+N when a signal N ended it. The attempt id in the file
# lets orch refuse the end of a stale attempt. Every write of a named file is a temp file then mv.
# POSIX sh and setsid (util-linux) only: it must run on whatever a host has.
set -u
VERSION=2

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
  announce=${ORCH_SPOOL_ANNOUNCE:-}
  unset ORCH_SPOOL_ANNOUNCE
  setsid "$@" </dev/null >"$spool/stdout" 2>"$spool/stderr" &
  pid=$!
  # The group exists once the child has called setsid (before it execs ARGV): until then a kill of the
  # group would miss it. Builtins only, so the wait costs no fork; bounded (setsid may be missing).
  tries=0
  until kill -0 "-$pid" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || break # ended and reaped already (dash may reap before `wait`)
    tries=$((tries + 1))
    [ "$tries" -le 1000 ] || sleep 0.01
    [ "$tries" -le 2000 ] || break
  done
  # Announced first (start returns at once), then published for kill and for people.
  if [ "$announce" = 1 ]; then
    echo "$pid"
    exec >/dev/null
  fi
  publish "$spool/pgid" "$pid"
  wait "$pid"
  code=$?
  publish "$spool/exitcode" "$code $attempt"
  # A phase ends with its leader: what it left in its group gets TERM, a grace, then KILL.
  # (`kill -SIG -PGID`, not `kill -s SIG -- -PGID`: dash's kill takes neither -- nor -s before a group.)
  if kill -TERM "-$pid" 2>/dev/null; then
    tries=0
    while kill -0 "-$pid" 2>/dev/null && [ "$tries" -lt 50 ]; do
      sleep 0.1
      tries=$((tries + 1))
    done
    kill -KILL "-$pid" 2>/dev/null
  fi
  return 0
}

# One framed part of collect: header, then the (capped) bytes as they were copied.
send() {
  if [ ! -f "$1/$2" ]; then
    printf '%s -1 0\n' "$2"
    return 0
  fi
  size=$(wc -c <"$1/$2" | tr -d ' ')
  head -c "$3" "$1/$2" >"$1/.$2.sent" || return 1
  sent=$(wc -c <"$1/.$2.sent" | tr -d ' ')
  printf '%s %s %s\n' "$2" "$size" "$sent"
  cat "$1/.$2.sent"
  rm -f "$1/.$2.sent"
}

prepare() {
  [ $# -ge 4 ] || die "usage: $0 $1 SPOOL ATTEMPT -- ARGV..."
  [ "$4" = "--" ] || die "expected -- before the command"
  [ -d "$2" ] || mkdir -p "$2" || die "cannot create the spool folder $2"
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
    [ ! -e "$spool/pgid" ] || rm -f "$spool/pgid"
    # setsid: the monitor leads a session of its own, with no terminal whose hangup could reach it, and
    # outlives this script and the connection that ran it. It announces the command's group on the pipe
    # of this command substitution and then closes it: the substitution ends at that EOF, with no polling
    # (the monitor itself runs on).
    pgid=$(ORCH_SPOOL_ANNOUNCE=1 setsid sh "$0" run "$spool" "$attempt" -- "$@" </dev/null 2>/dev/null &)
    [ -n "$pgid" ] || die "the command did not start"
    echo "$pgid"
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
  watch)
    [ $# -eq 2 ] || die "usage: $0 watch ROOT"
    mkdir -p "$2" || die "cannot create the spool root $2"
    seen=' ' beat=0
    while :; do
      for f in "$2"/*/exitcode; do
        [ -e "$f" ] || continue
        name=${f%/exitcode}
        name=${name##*/}
        case "$seen" in *" $name "*) continue ;; esac
        seen="$seen$name "
        printf '%s %s\n' "$name" "$(cat "$f")" || exit 0
      done
      beat=$((beat + 1))
      if [ "$beat" -ge 10 ]; then
        beat=0
        echo . || exit 0
      fi
      sleep 0.2
    done
    ;;
  collect)
    [ $# -eq 3 ] || die "usage: $0 collect SPOOL CAP"
    for part in stdout stderr result.json; do send "$2" "$part" "$3" || die "cannot read $2/$part"; done
    ;;
  kill)
    [ $# -eq 3 ] || die "usage: $0 kill SPOOL GRACE"
    [ -s "$2/pgid" ] || die "$2 names no command"
    pgid=$(cat "$2/pgid")
    kill -TERM "-$pgid" 2>/dev/null
    tries=0
    while [ ! -e "$2/exitcode" ] && [ "$tries" -lt $(($3 * 10)) ]; do
      sleep 0.1
      tries=$((tries + 1))
    done
    kill -KILL "-$pgid" 2>/dev/null
    true
    ;;
  *)
    die "usage: $0 --version | start|run SPOOL ATTEMPT -- ARGV... | wait SPOOL | watch ROOT | collect SPOOL CAP | kill SPOOL GRACE"
    ;;
esac

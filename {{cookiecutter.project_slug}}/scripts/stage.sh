#!/usr/bin/env bash
# One stage of `make demo`: usage `scripts/stage.sh NAME PATTERN COMMAND...`.
#
# The command's whole output (logs, warnings of every library) goes to logs/demo/NAME.log; the
# terminal gets one line: the stage, its time, and the output lines matching PATTERN (an extended
# regex; the last line when empty or none match): the stage's key figures. On a terminal a
# counter shows that a long stage is alive. A failing stage prints the end of its log instead.
set -uo pipefail
name=$1 pattern=$2
shift 2
mkdir -p logs/demo
log="logs/demo/$name.log"
started=$(date +%s%N)
elapsed() { local tenths=$((($(date +%s%N) - started) / 100000000)); echo "$((tenths / 10)).$((tenths % 10))"; }

"$@" >"$log" 2>&1 &
pid=$!
if [ -t 1 ]; then
  while kill -0 "$pid" 2>/dev/null; do
    printf '\r  %-10s %7s s ...' "$name" "$(elapsed)"
    sleep 0.2
  done
fi
wait "$pid"
status=$?
if [ "$status" -ne 0 ]; then
  printf '\r  %-10s %7s s  FAILED (exit %d); the end of %s:\n' "$name" "$(elapsed)" "$status" "$log"
  tail -n 30 "$log" | sed 's/^/    /'
  exit "$status"
fi
# Lines without colour codes, JSON quotes or leading blanks, joined with "; ".
plain() { sed -E 's/\x1b\[[0-9;]*m//g; s/^[[:space:]]+//; s/[",]+$//; s/"//g' | awk 'NR > 1 { printf "; " } { printf "%s", $0 }'; }
summary=""
if [ -n "$pattern" ]; then
  summary=$(sed -E 's/\x1b\[[0-9;]*m//g' "$log" | grep -E -- "$pattern" | plain)
fi
if [ -z "$summary" ]; then
  summary=$(grep -v '^[[:space:]]*$' "$log" | tail -n 1 | plain)
fi
printf '\r  %-10s %7s s  %s\n' "$name" "$(elapsed)" "${summary:-done}"

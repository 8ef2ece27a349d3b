#!/usr/bin/env bash
# Runs every Fuzz target of the module for the given time each (default 5s).
# A failing input is written to the target's testdata/fuzz directory, where
# it stays as corpus once the bug is fixed. FUZZPARALLEL sets the workers.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${1:-5s}
parallel=()
if [ -n "${FUZZPARALLEL:-}" ]; then parallel=(-parallel "$FUZZPARALLEL"); fi
count_files() { if [ -d "$1" ]; then find "$1" -type f | wc -l; else echo 0; fi; }
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "-- $pkg $target ($fuzztime)"
    corpus="$(go list -f '{{.Dir}}' "$pkg")/testdata/fuzz/$target"
    before=$(count_files "$corpus")
    for try in 1 2; do
      if out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "${parallel[@]}" "$pkg" 2>&1); then
        echo "$out" | grep '^fuzz: elapsed' | tail -1 || true
        break
      fi
      echo "$out" | grep -v '^fuzz: elapsed' >&2 || true
      # A new file in the corpus is a real finding. Without one, the fuzzing
      # engine itself failed (it sometimes loses a worker on a busy machine):
      # try once more.
      if [ "$(count_files "$corpus")" != "$before" ] || [ "$try" = 2 ]; then
        exit 1
      fi
      echo "(no failing input was recorded; running $target again)" >&2
    done
  done
done

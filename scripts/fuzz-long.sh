#!/usr/bin/env bash
# Long fuzzing of every decoder, for a quiet machine: 10 minutes per target
# by default (FUZZTIME overrides), about two and a half hours in all.
exec "$(dirname "$0")/fuzz.sh" "${FUZZTIME:-10m}"

#!/usr/bin/env bash
# Runs the whole test suite: formatting and vet, the static build the
# Dockerfile does, short fuzz runs of every decoder, then every Go test with
# the race detector. The Go tests start real libp2p hosts on loopback and
# drive the real node binary from js-libp2p clients under Node.js (npm
# packages are installed from the committed lockfiles on first use).
set -euo pipefail
cd "$(dirname "$0")"

for tool in go node npm; do
  command -v "$tool" >/dev/null || { echo "test.sh: $tool is required (Go 1.26+, Node.js 20+)" >&2; exit 1; }
done

echo "== gofmt"
unformatted=$(gofmt -l $(find . -name '*.go' -not -path '*/node_modules/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== static build, as in the Dockerfile"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$(mktemp -d)/rendezvous" ./cmd/rendezvous

echo "== fuzz (short runs of every Fuzz target)"
./scripts/fuzz.sh "${FUZZTIME:-5s}"

# Two passes under one summary: everything with the race detector, then the
# load tests that the race detector makes too slow (files tagged !race).
norace_node='^(TestThousandClientsFromOneIPAllHoldReservationsWithDefaults)$'
norace_bench='^(TestStuckReadersAreEndedWhileHonestWatchersKeepUp)$'
echo "== tests"
exec go tool gotestsum --format testname --raw-command -- bash -c '
  go test -json -race -count=1 -timeout 30m ./...; race=$?
  go test -json -count=1 -timeout 15m -run "'"$norace_node"'" ./node; node=$?
  go test -json -count=1 -timeout 15m -run "'"$norace_bench"'" ./bench; bench=$?
  exit $(( race | node | bench ))'

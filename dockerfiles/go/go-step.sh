#!/usr/bin/env bash
# gopid1 Go builder steps. Run inside the Go builder container.
# Usage: go-step download   fetch the modules go.mod requires (the only Go step with network)
#        go-step build      build the main package, or with GOPID1_TEST=1 the package's test binary (go test -c);
#                           no network: GOPROXY=off
#        go-step list       the packages GOPID1_PACKAGE (go list patterns, space-separated) names that have tests:
#                           one line "gopid1: package <import path> <dir relative to /src>" each, "-" for a package
#                           outside the module (the standard library's, a dependency's)
#        go-step test2json  /src/output (a test binary's -test.v=test2json output) as go test -json events of the
#                           package GOPID1_PACKAGE names (its import path), one JSON object a line
#   /src            the app (a directory with go.mod), copied in by the caller
#   /out/init       the static binary this step writes
#   /out/go-version `go version` of the toolchain that built it
# Environment: GOPID1_PACKAGE (default .), GOPID1_CGO (0|1), GOPID1_TAGS (build tags, comma-separated), GOPID1_LDFLAGS (default -buildid=),
# GOPID1_GOARCH (amd64, the default, or arm64), SOURCE_DATE_EPOCH.
set -euo pipefail

pkg="${GOPID1_PACKAGE:-.}"
ldflags="${GOPID1_LDFLAGS:--buildid=}"
taglist="${GOPID1_TAGS:-}"
export GOOS=linux GOARCH="${GOPID1_GOARCH:-amd64}"
# amd64: the baseline instruction set, so the machine runs on any x86-64 CPU (and under QEMU's emulation).
if [ "$GOARCH" = amd64 ]; then export GOAMD64=v1; fi
if [ "${GOPID1_CGO:-0}" = 1 ]; then
  # The blog's recipe (the caller adds -linkmode=external -extldflags=-static): netgo/osusergo keep glibc's NSS out of the binary.
  export CGO_ENABLED=1
  taglist="netgo,osusergo${taglist:+,$taglist}"
else
  export CGO_ENABLED=0
fi
tags="${taglist:+-tags=$taglist}"
mkdir -p /out
go version | tee /out/go-version
# Who this step runs as and what network it has (compile steps: an unprivileged user, loopback only).
echo "gopid1: sandbox: user $(id -un) (uid $(id -u)), network interfaces: $(echo $(ls /sys/class/net)), capabilities $(sed -n 's/^CapBnd:[[:space:]]*//p' /proc/self/status), no_new_privs $(sed -n 's/^NoNewPrivs:[[:space:]]*//p' /proc/self/status)"
# The resources this container may use (gopid1 --cpus, --memory-limit), as its cgroup says (v2, else v1).
if [ -r /sys/fs/cgroup/cpu.max ]; then
  echo "gopid1: cgroup cpu.max $(cat /sys/fs/cgroup/cpu.max), memory.max $(cat /sys/fs/cgroup/memory.max 2>/dev/null || echo unknown)"
elif [ -r /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
  echo "gopid1: cgroup cpu.max $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us), memory.max $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || echo unknown)"
fi
cd /src
case "${1:-build}" in
  download)
    # Every module the build needs must be in the module cache after this: the compile has no network.
    go mod download
    echo "gopid1: modules in the build list besides the main one: $(go list -m all | tail -n +2 | wc -l)"
    exit 0
    ;;
  build) ;;
  list)
    # shellcheck disable=SC2086
    go list $tags -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}} {{.Dir}}{{end}}' $pkg | while read -r importpath dir; do
      [ -n "$importpath" ] || continue
      case "$dir" in
        /src) rel=. ;;
        /src/*) rel=${dir#/src/} ;;
        *) rel=- ;;
      esac
      echo "gopid1: package $importpath $rel"
    done
    exit 0
    ;;
  test2json)
    go tool test2json -t -p "$pkg" < /src/output
    exit 0
    ;;
  *) echo "usage: go-step download | build | list | test2json" >&2; exit 2 ;;
esac
if [ "${GOPID1_TEST:-0}" = 1 ]; then
  go test -c -trimpath $tags -ldflags="$ldflags" -o /out/init "$pkg"
  if [ ! -e /out/init ]; then echo "gopid1: $pkg has no test files" >&2; exit 3; fi
else
  go build -trimpath $tags -ldflags="$ldflags" -o /out/init "$pkg"
fi
echo "gopid1: built $(stat -c %s /out/init) bytes"

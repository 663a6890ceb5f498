#!/usr/bin/env bash
# gopid1 kernel builder steps. Runs inside the kernel builder container; all state lives under /work:
#   /work/src        kernel source (absent: the image's /usr/src/linux is used)
#   /work/in/*.config  config fragments, applied in name order
#   /work/build      the out-of-tree build directory (make O=/work/build)
# Usage: kernel-step configure <tinyconfig|defconfig>
#        kernel-step compile <jobs>
# Environment: GOPID1_KERNEL_ARCH (x86, the default, or arm64: cross-compiled with aarch64-linux-gnu-),
# SOURCE_DATE_EPOCH.
set -euo pipefail

SRC=/usr/src/linux
[ -f /work/src/Makefile ] && SRC=/work/src
BUILD=/work/build
KARCH="${GOPID1_KERNEL_ARCH:-x86}"
case "$KARCH" in
  x86) IMAGE=bzImage ;;
  arm64) IMAGE=Image; export ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- ;;
  *) echo "gopid1: unknown kernel architecture $KARCH" >&2; exit 2 ;;
esac
export KBUILD_BUILD_USER=gopid1 KBUILD_BUILD_HOST=gopid1 KBUILD_BUILD_VERSION=1
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
  export KBUILD_BUILD_TIMESTAMP="$(date -u -d "@${SOURCE_DATE_EPOCH}" '+%Y-%m-%d %H:%M:%S UTC')"
fi

unpack() {
  # A source tarball the caller put at /work/in/source.tar.* (kernel.org download or a local file).
  local tarball
  tarball="$(ls /work/in/source.tar* 2>/dev/null | head -n 1 || true)"
  [ -n "$tarball" ] || return 0
  echo "gopid1: unpacking $(basename "$tarball")"
  mkdir -p /work/src
  tar -xf "$tarball" -C /work/src --strip-components=1
  rm -f "$tarball"
  if [ ! -f /work/src/Makefile ] || [ ! -d "/work/src/arch/$KARCH" ]; then
    echo "gopid1: the tarball does not hold a Linux source tree (expected linux-<version>/Makefile and arch/$KARCH)" >&2
    exit 3
  fi
  SRC=/work/src
}

configure() {
  local base="$1"
  unpack
  mkdir -p "$BUILD"
  make -s -C "$SRC" O="$BUILD" "$base" >/dev/null
  shopt -s nullglob
  local frags=(/work/in/*.config)
  if [ ${#frags[@]} -gt 0 ]; then
    (cd "$BUILD" && "$SRC/scripts/kconfig/merge_config.sh" -m -O "$BUILD" "$BUILD/.config" "${frags[@]}")
  fi
  make -s -C "$SRC" O="$BUILD" olddefconfig
  make -s -C "$SRC" O="$BUILD" kernelrelease > "$BUILD/gopid1-kernelrelease"
  # For every symbol a fragment names: where Kconfig defines it and what it depends on, so the caller can
  # explain an option that olddefconfig dropped.
  if [ ${#frags[@]} -gt 0 ]; then
    sed -nE 's/^(# )?CONFIG_([A-Za-z0-9_]+)[= ].*/\2/p' "${frags[@]}" | sort -u > "$BUILD/gopid1-wanted"
    # Only the target's own Kconfig files among the architectures (and not arch/x86/um, which is user-mode Linux).
    (cd "$SRC" && find . -name 'Kconfig*' -type f | grep -Ev '^\./arch/[^/]+/' ; cd "$SRC" && find "./arch/$KARCH" -name 'Kconfig*' -type f -not -path './arch/x86/um/*') \
      | sort > "$BUILD/gopid1-kconfig-files"
    awk -v src="$SRC" '
      NR == FNR { want[$1] = 1; next }
      {
        file = $0; sym = ""
        while ((getline line < (src "/" file)) > 0) {
          if (line ~ /^[ \t]*(menu)?config[ \t]+[A-Za-z0-9_]+[ \t]*$/) {
            split(line, w, /[ \t]+/); s = (w[1] == "" ? w[3] : w[2])
            if (s in want) { sym = s; f = file; sub(/^\.\//, "", f); print sym "\tdefined\t" f } else sym = ""
          } else if (line ~ /^[ \t]*(choice|endchoice|menu|endmenu|if|endif|comment|source)([ \t]|$)/) {
            sym = ""
          } else if (sym != "" && line ~ /^[ \t]*depends[ \t]+on[ \t]/) {
            d = line; sub(/^[ \t]*depends[ \t]+on[ \t]+/, "", d); print sym "\tdepends\t" d
          }
        }
        close(src "/" file)
      }
    ' "$BUILD/gopid1-wanted" "$BUILD/gopid1-kconfig-files" > "$BUILD/gopid1-kconfig-deps"
  else
    : > "$BUILD/gopid1-kconfig-deps"
  fi
  echo "gopid1: configured $(cat "$BUILD/gopid1-kernelrelease")"
}

compile() {
  local jobs="$1"
  make -C "$SRC" O="$BUILD" -j"$jobs" "$IMAGE"
  echo "gopid1: compiled $(cat "$BUILD/gopid1-kernelrelease")"
}

# Who this step runs as and what network it has (an unprivileged user, loopback only).
echo "gopid1: sandbox: user $(id -un) (uid $(id -u)), network interfaces: $(echo $(ls /sys/class/net)), capabilities $(sed -n 's/^CapBnd:[[:space:]]*//p' /proc/self/status), no_new_privs $(sed -n 's/^NoNewPrivs:[[:space:]]*//p' /proc/self/status)"
case "${1:-}" in
  configure) configure "${2:-tinyconfig}" ;;
  compile) compile "${2:-$(nproc)}" ;;
  *) echo "usage: kernel-step configure <tinyconfig|defconfig> | compile <jobs>" >&2; exit 2 ;;
esac

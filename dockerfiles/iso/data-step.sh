#!/usr/bin/env bash
# gopid1 data step: the empty ext4 filesystems of a machine's data disk (gopid1 build --data-disk SIZE), made by
# mke2fs without loop devices or mounts. Runs inside the ISO builder container.
#   /iso/out/data.sparse       the data disk (<name>.data.img) of GOPID1_DATA_BYTES
#   /iso/out/template.sparse   a TEMPLATE_MIB filesystem the supervising init writes to a blank disk on first boot
#                              and then grows online to the disk's size
# Both in gopid1's sparse form, so a disk of any size travels as the blocks that are not zeros: "GP1SPARS", the
# image's size (u64 LE), then runs of (offset u64 LE, length u32 LE, bytes) up to the end of the file.
# Environment: GOPID1_DATA_BYTES (a multiple of 4096), GOPID1_DATA_UUID (filesystem UUID and directory hash seed),
#   GOPID1_DATA_OWNER (uid:gid of the root directory), SOURCE_DATE_EPOCH (every time in the filesystem).
set -euo pipefail

echo "gopid1: sandbox: user $(id -un) (uid $(id -u)), network interfaces: $(echo $(ls /sys/class/net)), capabilities $(sed -n 's/^CapBnd:[[:space:]]*//p' /proc/self/status), no_new_privs $(sed -n 's/^NoNewPrivs:[[:space:]]*//p' /proc/self/status), root $(awk '$5 == "/" { split($6, o, ","); print o[1]; exit }' /proc/self/mountinfo)"
work=/iso/data
rm -rf "$work" && mkdir -p "$work" /iso/out
TEMPLATE_MIB=128

# 4 KiB blocks and 256-byte inodes whatever the size (mke2fs would pick 1 KiB blocks below 512 MiB), nothing kept
# back for root (the disk is the program's), inode tables and journal left for the kernel to initialise (a blank
# disk may hold old data beyond what the init checks), fixed identity and times: the same inputs, the same bytes.
make_fs() { # file bytes [mke2fs options]
  local file=$1 bytes=$2
  shift 2
  truncate -s "$bytes" "$file"
  E2FSPROGS_FAKE_TIME=${SOURCE_DATE_EPOCH:-0} mke2fs -q -F -t ext4 -b 4096 -I 256 -m 0 -L gopid1-data \
    -U "$GOPID1_DATA_UUID" -E "hash_seed=$GOPID1_DATA_UUID,root_owner=$GOPID1_DATA_OWNER,lazy_itable_init=1,lazy_journal_init=1,nodiscard" \
    "$@" "$file"
}

to_sparse() { # image sparse
  python3 - "$1" "$2" <<'PY'
import os, struct, sys
source, target = sys.argv[1], sys.argv[2]
block = 4096
fd = os.open(source, os.O_RDONLY)
size = os.fstat(fd).st_size
with open(target, 'wb') as out:
    out.write(b'GP1SPARS' + struct.pack('<Q', size))
    position = 0
    while position < size:
        try:
            position = os.lseek(fd, position, os.SEEK_DATA)
        except OSError:
            break
        end = os.lseek(fd, position, os.SEEK_HOLE)
        run_start, run = None, []
        while position < end:
            data = os.pread(fd, block, position)
            if data.count(0) != len(data):
                if run_start is None:
                    run_start = position
                run.append(data)
            if run_start is not None and (data.count(0) == len(data) or position + block >= end):
                chunk = b''.join(run)
                out.write(struct.pack('<QI', run_start, len(chunk)) + chunk)
                run_start, run = None, []
            position += block
PY
}

echo "gopid1: $(mke2fs -V 2>&1 | head -1), UUID $GOPID1_DATA_UUID, root owned by $GOPID1_DATA_OWNER"
make_fs "$work/data.img" "$GOPID1_DATA_BYTES"
to_sparse "$work/data.img" /iso/out/data.sparse
# The template keeps a 16 MiB journal (mke2fs would give a 128 MiB filesystem 4 MiB): it stays that size as the init grows it.
make_fs "$work/template.img" $(( TEMPLATE_MIB * 1048576 )) -J size=16
to_sparse "$work/template.img" /iso/out/template.sparse
echo "gopid1: data disk $GOPID1_DATA_BYTES bytes ($(stat -c %s /iso/out/data.sparse) bytes not zeros), template $TEMPLATE_MIB MiB ($(stat -c %s /iso/out/template.sparse) bytes)"
rm -rf "$work"

package main

// The data disk (gopid1 build --data-disk): the init finds it, writes an empty ext4 filesystem to it when it is
// blank, grows the filesystem to a larger disk, mounts it on /data before the app starts and unmounts it at power-off.
// A disk holding anything else (a partition table, another filesystem, data) is never written to.

import (
	"encoding/binary"
	"errors"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

const (
	dataDir      = "/data"
	templatePath = "/etc/gopid1/data.sparse"
	mib          = 1 << 20
	// ioctls: the size of a block device in bytes, and ext4's online resize to a number of blocks.
	blkGetSize64    = 0x80081272
	ext4ResizeFs    = 0x40086610
	ext4Magic       = 0xef53
	superblockAt    = 1024
	incompatRecover = 0x4 // the journal needs replaying: not unmounted cleanly
)

// dataMounted says whether /data is the data disk (and so must be unmounted at power-off).
var dataMounted bool

// superblock is what the init reads of an ext4 superblock.
type superblock struct {
	blocks    uint64
	blockSize uint64
	state     uint16 // 1: cleanly unmounted; 2: errors detected
	incompat  uint32
	label     string
}

func readSuperblock(device *os.File) (*superblock, error) {
	raw := make([]byte, 1024)
	if _, err := device.ReadAt(raw, superblockAt); err != nil {
		return nil, err
	}
	if binary.LittleEndian.Uint16(raw[56:]) != ext4Magic {
		return nil, errors.New("no ext4 superblock")
	}
	blocks := uint64(binary.LittleEndian.Uint32(raw[4:])) | uint64(binary.LittleEndian.Uint32(raw[0x150:]))<<32
	return &superblock{
		blocks:    blocks,
		blockSize: 1024 << binary.LittleEndian.Uint32(raw[24:]),
		state:     binary.LittleEndian.Uint16(raw[58:]),
		incompat:  binary.LittleEndian.Uint32(raw[96:]),
		label:     strings.TrimRight(string(raw[120:136]), "\x00"),
	}, nil
}

func deviceBytes(device *os.File) (uint64, error) {
	var size uint64
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, device.Fd(), blkGetSize64, uintptr(unsafe.Pointer(&size))); errno != 0 {
		return 0, errno
	}
	return size, nil
}

func zeros(data []byte) bool {
	for _, b := range data {
		if b != 0 {
			return false
		}
	}
	return true
}

// contents judges a disk as gopid1 boot does (src/data/probe.ts): "ext4", "blank" (zeros in its first and last MiB)
// or "other".
func contents(device *os.File, size uint64) string {
	if _, err := readSuperblock(device); err == nil {
		return "ext4"
	}
	if size < 2*mib {
		return "other"
	}
	head, tail := make([]byte, mib), make([]byte, mib)
	if _, err := device.ReadAt(head, 0); err != nil {
		return "other"
	}
	if _, err := device.ReadAt(tail, int64(size-mib)); err != nil {
		return "other"
	}
	if zeros(head) && zeros(tail) {
		return "blank"
	}
	return "other"
}

// disks lists the machine's whole disks by name (vda, sda, nvme0n1, xvda), not partitions, CD-ROMs or RAM disks.
func disks() []string {
	entries, _ := os.ReadDir("/sys/block")
	var names []string
	for _, entry := range entries {
		name := entry.Name()
		for _, prefix := range []string{"vd", "sd", "xvd", "nvme", "hd"} {
			if strings.HasPrefix(name, prefix) {
				names = append(names, name)
				break
			}
		}
	}
	sort.Strings(names)
	return names
}

// findDataDisk picks the first ext4 disk, else the first blank one; it says what it leaves alone.
func findDataDisk() (string, string) {
	var blank string
	for _, name := range disks() {
		device, err := os.Open("/dev/" + name)
		if err != nil {
			say("data: cannot open /dev/" + name + ": " + err.Error())
			continue
		}
		size, err := deviceBytes(device)
		kind := "other"
		if err == nil {
			kind = contents(device, size)
		}
		device.Close()
		switch {
		case kind == "ext4":
			return "/dev/" + name, kind
		case kind == "blank" && blank == "":
			blank = "/dev/" + name
		case kind == "other":
			say("data: /dev/" + name + " holds something other than ext4 (a partition table, another filesystem or data): left alone")
		}
	}
	if blank != "" {
		return blank, "blank"
	}
	return "", ""
}

// writeTemplate writes the empty filesystem of /etc/gopid1/data.sparse to a blank disk.
func writeTemplate(path string, size uint64) error {
	template, err := os.ReadFile(templatePath)
	if err != nil {
		return err
	}
	if len(template) < 16 || string(template[:8]) != "GP1SPARS" {
		return errors.New(templatePath + " is not a gopid1 sparse image")
	}
	if need := binary.LittleEndian.Uint64(template[8:]); size < need {
		return errors.New("the disk has " + strconv.FormatUint(size/mib, 10) + " MiB; the filesystem needs at least " + strconv.FormatUint(need/mib, 10) + " MiB")
	}
	device, err := os.OpenFile(path, os.O_WRONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer device.Close()
	for at := 16; at < len(template); {
		if at+12 > len(template) {
			return errors.New(templatePath + " is cut off")
		}
		offset, length := binary.LittleEndian.Uint64(template[at:]), int(binary.LittleEndian.Uint32(template[at+8:]))
		at += 12
		if at+length > len(template) {
			return errors.New(templatePath + " is cut off")
		}
		if _, err := device.WriteAt(template[at:at+length], int64(offset)); err != nil {
			return err
		}
		at += length
	}
	return device.Sync()
}

// mountData mounts the data disk on /data, formatting a blank one first and growing the filesystem to its disk;
// false when there is none to mount (the reason is said).
func mountData() bool {
	path, kind := findDataDisk()
	if path == "" {
		say("data: no data disk (a blank disk or one with an ext4 filesystem on the whole disk) to mount on " + dataDir)
		return false
	}
	if kind == "blank" {
		device, err := os.Open(path)
		var size uint64
		if err == nil {
			size, err = deviceBytes(device)
			device.Close()
		}
		if err == nil {
			err = writeTemplate(path, size)
		}
		if err != nil {
			say("data: cannot format the blank disk " + path + ": " + err.Error())
			return false
		}
		say("data: " + path + " was blank: wrote an empty ext4 filesystem")
	}
	device, err := os.Open(path)
	if err != nil {
		say("data: cannot open " + path + ": " + err.Error())
		return false
	}
	defer device.Close()
	sb, err := readSuperblock(device)
	if err != nil {
		say("data: " + path + ": " + err.Error())
		return false
	}
	if sb.state&2 != 0 {
		say("data: the filesystem on " + path + " recorded errors; mounting it anyway (check it with e2fsck on another machine)")
	}
	if sb.incompat&incompatRecover != 0 {
		say("data: " + path + " was not unmounted cleanly; the kernel replays its journal")
	}
	err = os.MkdirAll(dataDir, 0o755)
	if err == nil {
		err = syscall.Mount(path, dataDir, "ext4", syscall.MS_NOSUID|syscall.MS_NODEV, "errors=remount-ro")
	}
	if err != nil {
		say("data: cannot mount " + path + " on " + dataDir + ": " + err.Error())
		return false
	}
	dataMounted = true
	grow(device, path, sb)
	var fs syscall.Statfs_t
	free := ""
	if syscall.Statfs(dataDir, &fs) == nil {
		free = ", " + strconv.FormatUint(fs.Bavail*uint64(fs.Bsize)/mib, 10) + " MiB free"
	}
	say("data: " + path + " (ext4 " + strconv.Quote(sb.label) + ", " + strconv.FormatUint(sb.blocks*sb.blockSize/mib, 10) + " MiB" + free + ") on " + dataDir)
	return true
}

// grow enlarges the mounted filesystem to its disk when the disk is at least a MiB larger.
func grow(device *os.File, path string, sb *superblock) {
	size, err := deviceBytes(device)
	if err != nil || size < sb.blocks*sb.blockSize+mib {
		return
	}
	mount, err := os.Open(dataDir)
	if err != nil {
		return
	}
	defer mount.Close()
	blocks := size / sb.blockSize
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, mount.Fd(), ext4ResizeFs, uintptr(unsafe.Pointer(&blocks))); errno != 0 {
		say("data: cannot grow the filesystem on " + path + " to its disk: " + errno.Error())
		return
	}
	say("data: grew the filesystem on " + path + " from " + strconv.FormatUint(sb.blocks*sb.blockSize/mib, 10) + " to " + strconv.FormatUint(blocks*sb.blockSize/mib, 10) + " MiB")
	sb.blocks = blocks
}

// unmountData unmounts /data before power-off, or at least makes it read-only, so its journal is clean.
func unmountData() {
	if !dataMounted {
		return
	}
	if err := syscall.Unmount(dataDir, 0); err != nil {
		if err := syscall.Mount("", dataDir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
			say("data: cannot unmount " + dataDir + " or make it read-only: " + err.Error())
			return
		}
		say("data: " + dataDir + " is busy: made it read-only")
	}
	dataMounted = false
}

package main

// A static IPv6 address (gopid1 build --ip6 ADDR/PREFIX, --gateway6): the kernel's ip= configures IPv4 only, so the
// init adds the address and the default route to eth0 before the app starts, with the ioctls net-tools uses
// (no netlink code), and waits for duplicate address detection so the app can bind to it at once.

import (
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

const (
	siocGifIndex = 0x8933
	siocSifAddr  = 0x8916
	siocAddRt    = 0x890b
	// Flags of /proc/net/if_inet6: duplicate address detection still running, and failed.
	ifaTentative = 0x40
	ifaDadFailed = 0x08
	dadWait      = 5 * time.Second
)

// in6Ifreq is struct in6_ifreq.
type in6Ifreq struct {
	addr      [16]byte
	prefixLen uint32
	ifindex   int32
}

// in6Rtmsg is struct in6_rtmsg (LP64 layout).
type in6Rtmsg struct {
	dst, src, gateway [16]byte
	kind              uint32
	dstLen, srcLen    uint16
	metric            uint32
	_                 uint32
	info              uint64
	flags             uint32
	ifindex           int32
}

func ioctl(fd int, request uintptr, arg unsafe.Pointer) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), request, uintptr(arg)); errno != 0 {
		return errno
	}
	return nil
}

func interfaceIndex(fd int, name string) (int32, error) {
	var ifr [40]byte
	copy(ifr[:], name)
	if err := ioctl(fd, siocGifIndex, unsafe.Pointer(&ifr[0])); err != nil {
		return 0, err
	}
	return *(*int32)(unsafe.Pointer(&ifr[16])), nil
}

// configureIPv6 sets the static address ("ADDR/PREFIX") and default route (gateway, may be empty) on eth0.
func configureIPv6(address, gateway string) {
	prefix, err := netip.ParsePrefix(address)
	if err != nil || !prefix.Addr().Is6() {
		say("net: ignoring ip6=" + address + ": not an IPv6 ADDR/PREFIX")
		return
	}
	fd, err := syscall.Socket(syscall.AF_INET6, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		say("net: no IPv6 in the kernel: " + err.Error())
		return
	}
	defer syscall.Close(fd)
	index, err := interfaceIndex(fd, "eth0")
	if err != nil {
		say("net: no eth0 for " + address + ": " + err.Error())
		return
	}
	request := in6Ifreq{addr: prefix.Addr().As16(), prefixLen: uint32(prefix.Bits()), ifindex: index}
	if err := ioctl(fd, siocSifAddr, unsafe.Pointer(&request)); err != nil && err != syscall.EEXIST {
		say("net: cannot add " + address + " to eth0: " + err.Error())
		return
	}
	described := "eth0 " + prefix.String()
	if gateway != "" {
		if err := addDefaultRoute(fd, index, gateway); err != nil {
			say("net: cannot route through " + gateway + ": " + err.Error())
		} else {
			described += ", gateway " + gateway
		}
	}
	say("net: " + described + waitForDad(prefix.Addr()))
}

func addDefaultRoute(fd int, index int32, gateway string) error {
	via, err := netip.ParseAddr(gateway)
	if err != nil || !via.Is6() {
		return syscall.EINVAL
	}
	const rtfUp, rtfGateway = 0x1, 0x2
	route := in6Rtmsg{gateway: via.As16(), metric: 1, flags: rtfUp | rtfGateway, ifindex: index}
	return ioctl(fd, siocAddRt, unsafe.Pointer(&route))
}

// waitForDad waits until duplicate address detection has passed for address, and says how it ended.
func waitForDad(address netip.Addr) string {
	hex := ""
	for _, b := range address.As16() {
		hex += string("0123456789abcdef"[b>>4]) + string("0123456789abcdef"[b&15])
	}
	deadline := time.Now().Add(dadWait)
	for time.Now().Before(deadline) {
		flags, found := inet6Flags(hex)
		switch {
		case !found:
			return " (the address is gone)"
		case flags&ifaDadFailed != 0:
			return " (duplicate address: another machine on the link has it)"
		case flags&ifaTentative == 0:
			return ""
		}
		time.Sleep(50 * time.Millisecond)
	}
	return " (still tentative after " + dadWait.String() + ")"
}

// inet6Flags reads an address's flags from /proc/net/if_inet6 ("addr ifindex prefixlen scope flags name").
func inet6Flags(hex string) (uint64, bool) {
	data, _ := os.ReadFile("/proc/net/if_inet6")
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 6 && fields[0] == hex {
			var flags uint64
			for _, c := range fields[4] {
				flags = flags<<4 | uint64(strings.IndexRune("0123456789abcdef", c))
			}
			return flags, true
		}
	}
	return 0, false
}

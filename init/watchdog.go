package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

const (
	// stallFile makes the init stop feeding the watchdog (to see that it resets the machine); root creates it.
	stallFile = "/run/gopid1/watchdog-stall"
	// The watchdog API's ioctls (linux/watchdog.h): _IOWR('W', 6, int) and _IOR('W', 7, int).
	wdiocSetTimeout = 0xc0045706
	wdiocGetTimeout = 0x80045707
	softdogIdentity = "Software Watchdog"
)

// watchdog is /dev/watchdogN, fed from the supervisor's loop (gopid1 build --watchdog SECONDS): when the init hangs,
// or the app stays unhealthy, the feeding stops and the driver resets the machine.
type watchdog struct {
	file     *os.File
	ticker   *time.Ticker
	identity string
	quiet    string // why it is not being fed, once said
}

// pickWatchdog finds the watchdog to feed: a hardware one (the i6300esb QEMU offers) before the kernel's softdog.
func pickWatchdog() (device, identity string) {
	names, _ := filepath.Glob("/sys/class/watchdog/watchdog*")
	for _, name := range names {
		text, err := os.ReadFile(filepath.Join(name, "identity"))
		id := strings.TrimSpace(string(text))
		if err != nil {
			id = "unknown"
		}
		if device == "" || (identity == softdogIdentity && id != softdogIdentity) {
			device, identity = "/dev/"+filepath.Base(name), id
		}
	}
	return device, identity
}

// openWatchdog arms a watchdog with a timeout of seconds, or says why there is none (the machine runs on without).
func openWatchdog(seconds int) *watchdog {
	if seconds <= 0 {
		return nil
	}
	device, identity := pickWatchdog()
	if device == "" {
		say("watchdog: the kernel has no watchdog device; running without one")
		return nil
	}
	file, err := os.OpenFile(device, os.O_WRONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		say("watchdog: cannot open " + device + ": " + err.Error() + "; running without one")
		return nil
	}
	timeout := int32(seconds)
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, file.Fd(), wdiocSetTimeout, uintptr(unsafe.Pointer(&timeout))); errno != 0 {
		say("watchdog: " + device + " does not take a timeout of " + strconv.Itoa(seconds) + " s: " + errno.Error())
	}
	_, _, _ = syscall.Syscall(syscall.SYS_IOCTL, file.Fd(), wdiocGetTimeout, uintptr(unsafe.Pointer(&timeout)))
	_ = os.MkdirAll(filepath.Dir(stallFile), 0o755)
	interval := time.Duration(timeout) * time.Second / 3
	if interval < time.Second {
		interval = time.Second
	}
	say("watchdog: " + identity + " (" + device + "), timeout " + strconv.Itoa(int(timeout)) + " s, fed every " + interval.String())
	w := &watchdog{file: file, ticker: time.NewTicker(interval), identity: identity}
	w.write("\x00")
	return w
}

// ticks fires when the watchdog is due to be fed; never without one.
func (w *watchdog) ticks() <-chan time.Time {
	if w == nil {
		return nil
	}
	return w.ticker.C
}

func (w *watchdog) write(data string) {
	if _, err := w.file.WriteString(data); err != nil {
		say("watchdog: cannot feed it: " + err.Error())
	}
}

// feed keeps the machine alive while the app is healthy and no one asked for a stall; each change is said once.
func (w *watchdog) feed(healthy bool) {
	why := ""
	if _, err := os.Stat(stallFile); err == nil {
		why = stallFile + " exists"
	} else if !healthy {
		why = "the app is unhealthy"
	}
	if why != w.quiet {
		if why != "" {
			say("watchdog: not feeding it (" + why + "): the machine resets unless that changes")
		} else {
			say("watchdog: feeding it again")
		}
		w.quiet = why
	}
	if why == "" {
		w.write("\x00")
	}
}

// disarm stops the watchdog before a clean power-off (the magic close), so it cannot reset the machine halfway.
func (w *watchdog) disarm() {
	if w == nil {
		return
	}
	w.ticker.Stop()
	w.write("V")
	_ = w.file.Close()
}

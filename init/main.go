// Command init is gopid1's supervising init, PID 1 of machines built with `gopid1 build --init supervise`.
//
// It mounts /dev, /dev/pts, /dev/shm, /proc, /sys, /tmp and /run, sets the host name from /etc/hostname, brings
// up lo, starts /app with the arguments the kernel gave init and the environment a container would have (PATH,
// HOSTNAME, HOME, then the build's, the kernel's and the host's), forwards SIGTERM, SIGINT, SIGHUP, SIGUSR1 and
// SIGUSR2 to it, turns a press of the ACPI power button into SIGTERM (SIGKILL if the app is still running
// StopTimeout later), and reaps every process re-parented to it. When the app ends it prints exactly one line,
//
//	gopid1: app exited with status N     or     gopid1: app killed by signal N (name)
//
// stops whatever the app left running, and powers the machine off instead of letting the kernel panic.
//
// With a restart policy in /etc/gopid1/init.conf (gopid1 build --restart on-failure|always, --restart-max N) it
// starts the app again instead, after 1 s, doubling to 30 s, and back to 1 s once a run lasted 60 s; each restart
// prints "gopid1: app exited with status N, restart K in S s". Status 125 means stop: no restart. With
// --restart-max N, a run that ends after N restarts in a row (none lasting 60 s) is the last.
//
// With a data disk (gopid1 build --data-disk SIZE) it mounts the machine's data disk on /data before the app starts
// (writing an empty ext4 filesystem to a blank disk, growing the filesystem to a larger disk; init/data.go) and
// unmounts it before powering off; without one the app does not start.
//
// With a watchdog (gopid1 build --watchdog SECONDS) it feeds /dev/watchdogN from its loop while the app is not
// unhealthy and /run/gopid1/watchdog-stall does not exist, and disarms it before powering off.
//
// Standard library only: it is built by gopid1's Go builder like any app, stripped and static.
package main

import (
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

const (
	appPath = "/app"
	// StopTimeout is how long the app has to end after SIGTERM from the power button.
	stopTimeout = 10 * time.Second
	// leftoverTimeout is how long processes still running after the app ended get between SIGTERM and SIGKILL.
	leftoverTimeout = 2 * time.Second
	defaultPath     = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	configPath      = "/etc/gopid1/init.conf"
	// The restart backoff: first delay, longest delay, and how long a run must last for the next to start afresh.
	backoffFirst = time.Second
	backoffMax   = 30 * time.Second
	stableRun    = 60 * time.Second
	// stopStatus is the exit status that means "do not restart me".
	stopStatus = 125
)

// workdir is the app's working directory (gopid1 test: its package's directory); / unless init.conf says.
var workdir = "/"

// dog is the watchdog the init feeds (nil: none); powerOff disarms it.
var dog *watchdog

// config is what gopid1 build wrote to /etc/gopid1/init.conf ("key=value" lines).
type config struct {
	restart    string // no, on-failure or always
	restartMax int    // 0: no limit
	health     healthConfig
	watchdog   int // seconds; 0: none
	data       bool
	ip6        string // ADDR/PREFIX
	gateway6   string
	metadata   string // the cloud whose metadata service gives user-data: aws, gcp; "": none
}

func readConfig() config {
	cfg := config{restart: "no", health: defaultHealth()}
	data, err := os.ReadFile(configPath)
	if err != nil {
		return cfg
	}
	for _, line := range strings.Split(string(data), "\n") {
		key, value, found := strings.Cut(strings.TrimSpace(line), "=")
		switch {
		case !found || strings.HasPrefix(key, "#"):
		case key == "restart" && (value == "no" || value == "on-failure" || value == "always"):
			cfg.restart = value
		case key == "restart-max":
			if n, err := strconv.Atoi(value); err == nil && n >= 0 {
				cfg.restartMax = n
			}
		case key == "user":
			if credential = parseUser(value); credential == nil {
				say("ignoring " + configPath + " line " + strconv.Quote(line) + ": not UID or UID:GID")
			}
		case key == "watchdog":
			if n, err := strconv.Atoi(value); err == nil && n > 0 {
				cfg.watchdog = n
			}
		case key == "data" && value == dataDir:
			cfg.data = true
		case key == "metadata":
			cfg.metadata = value
		case key == "workdir" && strings.HasPrefix(value, "/"):
			workdir = value
		case key == "ip6":
			cfg.ip6 = value
		case key == "gateway6":
			cfg.gateway6 = value
		case cfg.health.set(key, value):
		default:
			say("ignoring " + configPath + " line " + strconv.Quote(line))
		}
	}
	return cfg
}

// restarter applies the restart policy to each end of the app.
type restarter struct {
	cfg      config
	restarts int // in a row, since the last run that lasted stableRun
	backoff  time.Duration
}

// next says whether to start the app again after it ended with status, having run for ran (unhealthy: stopped
// by the health checks, a failure whatever its status), and after how long.
func (r *restarter) next(status syscall.WaitStatus, ran time.Duration, unhealthy bool) (bool, time.Duration) {
	succeeded := status.Exited() && status.ExitStatus() == 0 && !unhealthy
	if r.cfg.restart == "no" || (r.cfg.restart == "on-failure" && succeeded) || (status.Exited() && status.ExitStatus() == stopStatus) {
		return false, 0
	}
	if ran >= stableRun {
		r.restarts, r.backoff = 0, 0
	}
	if r.cfg.restartMax > 0 && r.restarts >= r.cfg.restartMax {
		say("giving up after " + strconv.Itoa(r.restarts) + " restarts in a row (--restart-max " + strconv.Itoa(r.cfg.restartMax) + ")")
		return false, 0
	}
	if r.backoff == 0 {
		r.backoff = backoffFirst
	} else if r.backoff *= 2; r.backoff > backoffMax {
		r.backoff = backoffMax
	}
	r.restarts++
	return true, r.backoff
}

func say(message string) {
	os.Stdout.WriteString("gopid1: " + message + "\n")
}

type mountPoint struct {
	source, target, fstype string
	flags                  uintptr
	data                   string
	mode                   uint32
}

var mounts = []mountPoint{
	{"devtmpfs", "/dev", "devtmpfs", syscall.MS_NOSUID, "mode=0755", 0o755},
	// Pseudo-terminals, as a container's /dev/pts (devtmpfs makes /dev/ptmx, which opens this instance).
	{"devpts", "/dev/pts", "devpts", syscall.MS_NOSUID | syscall.MS_NOEXEC, "gid=5,mode=0620,ptmxmode=0666", 0o755},
	{"proc", "/proc", "proc", syscall.MS_NOSUID | syscall.MS_NODEV | syscall.MS_NOEXEC, "", 0o555},
	{"sysfs", "/sys", "sysfs", syscall.MS_NOSUID | syscall.MS_NODEV | syscall.MS_NOEXEC, "", 0o555},
	{"tmpfs", "/tmp", "tmpfs", syscall.MS_NOSUID | syscall.MS_NODEV, "mode=1777", 0o1777},
	{"tmpfs", "/run", "tmpfs", syscall.MS_NOSUID | syscall.MS_NODEV, "mode=0755", 0o755},
	{"tmpfs", "/dev/shm", "tmpfs", syscall.MS_NOSUID | syscall.MS_NODEV, "mode=1777", 0o1777},
}

// mountAll mounts what a program expects to find; a filesystem the kernel lacks is reported, not fatal.
func mountAll() {
	for _, m := range mounts {
		if err := os.MkdirAll(m.target, os.FileMode(m.mode&0o777)); err != nil {
			say("cannot create " + m.target + ": " + err.Error())
			continue
		}
		if err := syscall.Mount(m.source, m.target, m.fstype, m.flags, m.data); err != nil {
			say("cannot mount " + m.fstype + " on " + m.target + ": " + err.Error())
		}
	}
	// What udev would add: /dev/fd and the standard streams.
	for name, target := range map[string]string{"/dev/fd": "/proc/self/fd", "/dev/stdin": "/proc/self/fd/0", "/dev/stdout": "/proc/self/fd/1", "/dev/stderr": "/proc/self/fd/2"} {
		_ = os.Symlink(target, name)
	}
}

// openConsole gives fds 0-2 a console when the kernel could not (no /dev/console in the initramfs).
func openConsole() {
	var st syscall.Stat_t
	if syscall.Fstat(1, &st) == nil {
		return
	}
	fd, err := syscall.Open("/dev/console", syscall.O_RDWR, 0)
	if err != nil {
		return
	}
	for target := 0; target <= 2; target++ {
		if target != fd {
			_ = syscall.Dup3(fd, target, 0) // dup3: arm64 has no dup2
		}
	}
	if fd > 2 {
		_ = syscall.Close(fd)
	}
}

// setHostname names the machine as /etc/hostname says (gopid1 build --hostname, or the machine's name).
func setHostname() {
	data, err := os.ReadFile("/etc/hostname")
	if err != nil {
		return
	}
	if name := strings.TrimSpace(string(data)); name != "" {
		if err := syscall.Sethostname([]byte(name)); err != nil {
			say("cannot set the host name " + strconv.Quote(name) + ": " + err.Error())
		}
	}
}

// loopbackUp sets lo up (the kernel gives it 127.0.0.1 then); a kernel without networking has no lo.
func loopbackUp() {
	if _, err := os.Stat("/sys/class/net/lo"); err != nil {
		return
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer syscall.Close(fd)
	var ifr [40]byte // struct ifreq: name[16], then a union whose first member here is short flags
	copy(ifr[:], "lo")
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.SIOCGIFFLAGS, uintptr(unsafe.Pointer(&ifr[0]))); errno != 0 {
		say("cannot read the flags of lo: " + errno.Error())
		return
	}
	flags := *(*uint16)(unsafe.Pointer(&ifr[16]))
	*(*uint16)(unsafe.Pointer(&ifr[16])) = flags | syscall.IFF_UP
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.SIOCSIFFLAGS, uintptr(unsafe.Pointer(&ifr[0]))); errno != 0 {
		say("cannot bring lo up: " + errno.Error())
	}
}

// watchPowerButton reports presses of KEY_POWER on any input device (the ACPI power button QEMU's
// system_powerdown presses).
func watchPowerButton(pressed chan<- struct{}) {
	entries, err := os.ReadDir("/dev/input")
	if err != nil {
		return
	}
	for _, entry := range entries {
		if !strings.HasPrefix(entry.Name(), "event") {
			continue
		}
		device, err := os.Open("/dev/input/" + entry.Name())
		if err != nil {
			continue
		}
		go func(device *os.File) {
			defer device.Close()
			var event [24]byte // struct input_event on 64-bit: timeval (16), type u16, code u16, value s32
			for {
				if _, err := readFull(device, event[:]); err != nil {
					return
				}
				kind := uint16(event[16]) | uint16(event[17])<<8
				code := uint16(event[18]) | uint16(event[19])<<8
				value := int32(uint32(event[20]) | uint32(event[21])<<8 | uint32(event[22])<<16 | uint32(event[23])<<24)
				const evKey, keyPower = 1, 116
				if kind == evKey && code == keyPower && value == 1 {
					pressed <- struct{}{}
				}
			}
		}(device)
	}
}

func readFull(f *os.File, buf []byte) (int, error) {
	total := 0
	for total < len(buf) {
		n, err := f.Read(buf[total:])
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func environment() []string {
	return appEnv
}

// startApp starts /app in its own session with the console as its controlling terminal (so a Ctrl-C typed
// on the console reaches it), falling back to no controlling terminal where the console refuses one.
func startApp() (int, error) {
	argv := append([]string{appPath}, os.Args[1:]...)
	attr := &syscall.ProcAttr{Dir: workdir, Env: environment(), Files: []uintptr{0, 1, 2}, Sys: &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0, Credential: credential}}
	pid, err := syscall.ForkExec(appPath, argv, attr)
	if err != nil && err != syscall.ENOENT && err != syscall.EACCES && err != syscall.ENOEXEC {
		attr.Sys = &syscall.SysProcAttr{Setsid: true, Credential: credential}
		pid, err = syscall.ForkExec(appPath, argv, attr)
	}
	return pid, err
}

func signalName(sig syscall.Signal) string {
	return strings.ToLower(sig.String())
}

func describe(status syscall.WaitStatus) (string, int) {
	if status.Signaled() {
		return "app killed by signal " + strconv.Itoa(int(status.Signal())) + " (" + signalName(status.Signal()) + ")", 128 + int(status.Signal())
	}
	return "app exited with status " + strconv.Itoa(status.ExitStatus()), status.ExitStatus()
}

// reap collects every child that has ended, and returns the statuses of those among pids.
func reap(pids ...int) map[int]syscall.WaitStatus {
	ended := map[int]syscall.WaitStatus{}
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			return ended
		}
		for _, watched := range pids {
			if pid == watched && watched > 0 {
				ended[pid] = status
			}
		}
	}
}

// stopLeftovers ends whatever still runs once the app has ended: SIGTERM, a short wait, SIGKILL.
func stopLeftovers() {
	if syscall.Kill(-1, syscall.SIGTERM) == syscall.ESRCH {
		return
	}
	deadline := time.Now().Add(leftoverTimeout)
	for time.Now().Before(deadline) {
		reap()
		if _, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil); err == syscall.ECHILD {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = syscall.Kill(-1, syscall.SIGKILL)
	for {
		if _, err := syscall.Wait4(-1, nil, 0, nil); err == syscall.ECHILD || (err != nil && err != syscall.EINTR) {
			return
		}
	}
}

// powerOff turns the machine off. Without a way to (no ACPI on x86, no PSCI on arm64, or acpi=off) the kernel
// would turn the request into a halt that never returns; then PID 1 ends instead, the kernel panics, and with
// panic=-1 the machine resets (QEMU under gopid1 boot exits).
func powerOff(code int) {
	dog.disarm()
	unmountData()
	syscall.Sync()
	if !canPowerOff() {
		say("cannot power off: the kernel has no ACPI or PSCI to do it; ending PID 1 instead")
		os.Exit(code)
	}
	err := syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF)
	say("cannot power off: " + err.Error())
	os.Exit(code)
}

// canPowerOff tells whether the kernel has firmware to turn the machine off with.
func canPowerOff() bool {
	for _, path := range []string{"/sys/firmware/acpi", "/sys/firmware/devicetree/base/psci", "/proc/device-tree/psci"} {
		if _, err := os.Stat(path); err == nil {
			return true
		}
	}
	return false
}

func main() {
	if os.Getpid() != 1 {
		say("this is a machine's init; it must run as PID 1")
		os.Exit(2)
	}
	openConsole()
	mountAll()
	openConsole()
	setHostname()
	loopbackUp()

	signals := make(chan os.Signal, 32)
	signal.Notify(signals, syscall.SIGCHLD, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	power := make(chan struct{}, 4)
	watchPowerButton(power)

	cfg := readConfig()
	if cfg.ip6 != "" {
		configureIPv6(cfg.ip6, cfg.gateway6)
	}
	userData, host := readUserData(cfg.metadata), readFwCfg()
	loadEnvironment(userData, host)
	loadSecrets(userData, host)
	if cfg.data && !mountData() {
		say("not starting the app without its data disk")
		say("app exited with status 126")
		powerOff(126)
	}
	dog = openWatchdog(cfg.watchdog)
	supervise(&restarter{cfg: cfg}, newHealthMonitor(cfg.health), signals, power)
}

// stopApp sends the app SIGTERM; the returned channel fires when it is time for SIGKILL.
func stopApp(app int) <-chan time.Time {
	_ = syscall.Kill(app, syscall.SIGTERM)
	return time.After(stopTimeout)
}

// launch starts the app, or ends the machine with 126 (or 127: not there) when it cannot be started.
func launch() int {
	app, err := startApp()
	if err != nil {
		say("cannot start " + appPath + ": " + err.Error())
		code := 126
		if err == syscall.ENOENT {
			code = 127
		}
		say("app exited with status " + strconv.Itoa(code))
		powerOff(code)
	}
	return app
}

// supervise runs the app until it ends for good: then the machine powers off with its status.
func supervise(policy *restarter, health *healthMonitor, signals <-chan os.Signal, power <-chan struct{}) {
	app, started := launch(), time.Now()
	health.appStarted()
	var kill, restart <-chan time.Time
	stopping := false  // the power button was pressed: no more restarts
	unhealthy := false // the health checks stopped this run
	lastCode := 0
	for {
		select {
		case sig := <-signals:
			if sig != syscall.SIGCHLD {
				if app > 0 {
					_ = syscall.Kill(app, sig.(syscall.Signal))
				}
				continue
			}
			ended := reap(app, health.pid)
			if status, done := ended[health.pid]; done && health.pid > 0 {
				if health.result(health.commandEnded(status), app > 0) {
					unhealthy, kill = true, stopApp(app)
				}
			}
			status, done := ended[app]
			if !done || app <= 0 {
				continue
			}
			message, code := describe(status)
			health.appEnded()
			stopLeftovers()
			again, delay := false, time.Duration(0)
			if !stopping {
				again, delay = policy.next(status, time.Since(started), unhealthy)
			}
			if !again {
				say(message)
				powerOff(code)
			}
			say(message + ", restart " + strconv.Itoa(policy.restarts) + " in " + strconv.Itoa(int(delay/time.Second)) + " s")
			app, lastCode, kill, restart, unhealthy = 0, code, nil, time.After(delay), false
		case <-restart:
			app, started, restart = launch(), time.Now(), nil
			health.appStarted()
		case <-health.timer:
			health.check()
		case <-health.deadline:
			health.expire()
		case err := <-health.results:
			if health.result(err, app > 0) {
				unhealthy, kill = true, stopApp(app)
			}
		case <-power:
			if app == 0 {
				say("power button: not restarting the app")
				say("app exited with status " + strconv.Itoa(lastCode))
				powerOff(lastCode)
			}
			if kill == nil {
				say("power button: sending SIGTERM to the app")
				stopping, kill = true, stopApp(app)
			} else {
				say("power button again: killing the app")
				_ = syscall.Kill(app, syscall.SIGKILL)
			}
		case <-dog.ticks():
			dog.feed(health.state != "unhealthy")
		case <-kill:
			say("the app did not stop within " + stopTimeout.String() + " of SIGTERM: killing it")
			_ = syscall.Kill(app, syscall.SIGKILL)
		}
	}
}

package main

import (
	"errors"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// healthConfig is how the app's health is checked (gopid1 build --health URL or --health-cmd "ARGV"): first after
// startPeriod, then every interval; retries failures in a row make it unhealthy, and the supervisor stops it.
type healthConfig struct {
	url         string   // http://127.0.0.1:PORT/PATH, http://localhost:PORT/PATH or http://[::1]:PORT/PATH
	command     []string // run with the app's environment; exit status 0 is healthy
	interval    time.Duration
	timeout     time.Duration
	startPeriod time.Duration
	retries     int
}

func defaultHealth() healthConfig {
	return healthConfig{interval: 10 * time.Second, timeout: 5 * time.Second, startPeriod: 10 * time.Second, retries: 3}
}

func (h healthConfig) enabled() bool {
	return h.url != "" || len(h.command) > 0
}

// setHealth takes one health-* line of init.conf; false when the key is not one of them or the value is bad.
func (h *healthConfig) set(key, value string) bool {
	seconds := func(target *time.Duration) bool {
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 {
			return false
		}
		*target = time.Duration(n) * time.Second
		return true
	}
	switch key {
	case "health-url":
		h.url = value
		return strings.HasPrefix(value, "http://")
	case "health-cmd":
		h.command = strings.Fields(value)
		return len(h.command) > 0
	case "health-interval":
		return seconds(&h.interval)
	case "health-timeout":
		return seconds(&h.timeout)
	case "health-start-period":
		return seconds(&h.startPeriod)
	case "health-retries":
		n, err := strconv.Atoi(value)
		h.retries = n
		return err == nil && n >= 1
	}
	return false
}

// loopbackAddress is where an http:// URL on loopback points: its socket family, address and the Host header.
func loopbackAddress(url string) (int, syscall.Sockaddr, string, string, error) {
	rest, ok := strings.CutPrefix(url, "http://")
	if !ok {
		return 0, nil, "", "", errors.New("not an http:// URL")
	}
	hostport, path, _ := strings.Cut(rest, "/")
	host, portText := hostport, "80"
	if i := strings.LastIndex(hostport, ":"); i >= 0 && !strings.HasSuffix(hostport, "]") {
		host, portText = hostport[:i], hostport[i+1:]
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 1 || port > 65535 {
		return 0, nil, "", "", errors.New("bad port " + strconv.Quote(portText))
	}
	switch host {
	case "127.0.0.1", "localhost":
		return syscall.AF_INET, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}, hostport, "/" + path, nil
	case "[::1]":
		return syscall.AF_INET6, &syscall.SockaddrInet6{Port: port, Addr: [16]byte{15: 1}}, hostport, "/" + path, nil
	}
	return 0, nil, "", "", errors.New("not a loopback address: " + host)
}

// httpCheck GETs url on loopback and wants a 2xx or 3xx answer within timeout. Raw sockets: the net package
// would double the size of the init.
func httpCheck(url string, timeout time.Duration) error {
	family, address, host, path, err := loopbackAddress(url)
	if err != nil {
		return err
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	limit := syscall.NsecToTimeval(timeout.Nanoseconds())
	_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &limit)
	_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &limit)
	if err := syscall.Connect(fd, address); err != nil {
		return err
	}
	request := []byte("GET " + path + " HTTP/1.0\r\nHost: " + host + "\r\nUser-Agent: gopid1-init\r\nConnection: close\r\n\r\n")
	for len(request) > 0 {
		n, err := syscall.Write(fd, request)
		if err != nil {
			return err
		}
		request = request[n:]
	}
	answer := make([]byte, 0, 64)
	buffer := make([]byte, 64)
	for len(answer) < 12 {
		n, err := syscall.Read(fd, buffer)
		if err != nil {
			return err
		}
		if n == 0 {
			return errors.New("connection closed without an answer")
		}
		answer = append(answer, buffer[:n]...)
	}
	fields := strings.Fields(string(answer))
	if len(fields) < 2 || !strings.HasPrefix(fields[0], "HTTP/") {
		return errors.New("not an HTTP answer")
	}
	if code, err := strconv.Atoi(fields[1]); err != nil || code < 200 || code > 399 {
		return errors.New("answered " + fields[1])
	}
	return nil
}

// healthMonitor checks the running app and tells when it became unhealthy.
type healthMonitor struct {
	cfg      healthConfig
	timer    <-chan time.Time // the next check
	results  chan error       // of HTTP checks, which run on their own goroutine
	pid      int              // a running --health-cmd
	deadline <-chan time.Time // when that command is killed
	timedOut bool             // it was
	checking bool
	failures int
	state    string // starting, healthy, unhealthy
}

func newHealthMonitor(cfg healthConfig) *healthMonitor {
	return &healthMonitor{cfg: cfg, results: make(chan error, 1)}
}

// appStarted starts checking a fresh run of the app after the start period.
func (m *healthMonitor) appStarted() {
	if !m.cfg.enabled() {
		return
	}
	m.failures, m.state, m.timer = 0, "starting", time.After(m.cfg.startPeriod)
}

// appEnded stops checking until the next run (a check in flight is left to finish or be killed).
func (m *healthMonitor) appEnded() {
	m.timer = nil
}

// check starts one check.
func (m *healthMonitor) check() {
	m.timer = nil
	if m.checking {
		return
	}
	m.checking = true
	if m.cfg.url != "" {
		go func() { m.results <- httpCheck(m.cfg.url, m.cfg.timeout) }()
		return
	}
	null, _ := syscall.Open("/dev/null", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	attr := &syscall.ProcAttr{Dir: "/", Env: environment(), Files: []uintptr{uintptr(null), uintptr(null), uintptr(null)}, Sys: &syscall.SysProcAttr{Setpgid: true, Credential: credential}}
	pid, err := syscall.ForkExec(m.cfg.command[0], m.cfg.command, attr)
	_ = syscall.Close(null)
	if err != nil {
		m.results <- errors.New("cannot run " + m.cfg.command[0] + ": " + err.Error())
		return
	}
	m.pid, m.deadline = pid, time.After(m.cfg.timeout)
}

// expire kills a health command that ran past its timeout.
func (m *healthMonitor) expire() {
	m.deadline, m.timedOut = nil, true
	_ = syscall.Kill(-m.pid, syscall.SIGKILL)
}

// commandEnded takes the health command's end (reaped by the supervisor).
func (m *healthMonitor) commandEnded(status syscall.WaitStatus) error {
	timedOut := m.timedOut
	m.pid, m.deadline, m.timedOut = 0, nil, false
	switch {
	case timedOut:
		return errors.New("timed out after " + m.cfg.timeout.String())
	case status.Signaled():
		return errors.New("killed by signal " + strconv.Itoa(int(status.Signal())))
	case status.ExitStatus() != 0:
		return errors.New("exited with status " + strconv.Itoa(status.ExitStatus()))
	}
	return nil
}

// result takes a check's outcome, prints a change of state, and says whether the app is now unhealthy.
func (m *healthMonitor) result(err error, running bool) bool {
	m.checking = false
	if !running {
		return false
	}
	m.timer = time.After(m.cfg.interval)
	if err == nil {
		if m.state != "healthy" {
			say("health: healthy")
		}
		m.failures, m.state = 0, "healthy"
		return false
	}
	m.failures++
	say("health: check failed (" + err.Error() + "), " + strconv.Itoa(m.failures) + " of " + strconv.Itoa(m.cfg.retries))
	if m.failures < m.cfg.retries {
		return false
	}
	m.state, m.timer = "unhealthy", nil
	say("health: unhealthy after " + strconv.Itoa(m.failures) + " failed checks in a row: stopping the app")
	return true
}

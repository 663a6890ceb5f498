package main

// Instance user-data: on a cloud (gopid1 build --cloud aws|gcp, or the aws and gcp formats) the machine gets its
// run-time environment and secrets from the cloud's metadata service at 169.254.169.254, as fw_cfg brings them under
// gopid1 boot. The user-data's format (gopid1 writes it: src/plan/user-data.ts):
//
//	#gopid1
//	KEY=VALUE                 an environment variable
//	secret:NAME=BASE64        /run/secrets/NAME holds the decoded bytes
//
// Under QEMU (fw_cfg is there) the service is asked only when gopid1 boot --metadata-server emulates it.

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	metadataAddress = "169.254.169.254"
	userDataHeader  = "#gopid1"
	// How long the init keeps asking a metadata service that does not answer yet, and each request's limit.
	metadataPatience = 10 * time.Second
	metadataTimeout  = 2 * time.Second
)

// metadataWanted tells whether to ask the cloud's metadata service: on a cloud (no fw_cfg), or under gopid1 boot
// --metadata-server, which says so through fw_cfg.
func metadataWanted() bool {
	if _, err := os.Stat("/sys/firmware/qemu_fw_cfg"); err != nil {
		return true
	}
	_, err := os.Stat(filepath.Join(fwCfgRoot, "metadata"))
	return err == nil
}

// readUserData asks the cloud's metadata service for the instance's user-data and reads gopid1's lines from it.
func readUserData(cloud string) hostConfig {
	config := hostConfig{from: "user-data", secrets: map[string][]byte{}}
	if (cloud != "aws" && cloud != "gcp") || !metadataWanted() {
		return config
	}
	var data []byte
	var err error
	for deadline := time.Now().Add(metadataPatience); ; time.Sleep(500 * time.Millisecond) {
		if data, err = fetchUserData(cloud); err == nil || time.Now().After(deadline) || err == errNoUserData {
			break
		}
	}
	switch {
	case err == errNoUserData:
		say("config: the instance has no user-data")
	case err != nil:
		say("config: cannot read the instance's user-data: " + err.Error())
	default:
		parseUserData(data, &config)
	}
	return config
}

var errNoUserData = errors.New("no user-data")

// fetchUserData asks EC2's IMDSv2 (a session token first) or Compute Engine's metadata server.
func fetchUserData(cloud string) ([]byte, error) {
	if cloud == "gcp" {
		return metadataGet("/computeMetadata/v1/instance/attributes/user-data", "Metadata-Flavor: Google")
	}
	status, token, err := httpRequest("PUT", "/latest/api/token", []string{"X-aws-ec2-metadata-token-ttl-seconds: 60"})
	if err != nil {
		return nil, err
	}
	if status != 200 {
		return nil, errors.New("IMDSv2 refused a session token (HTTP " + strconv.Itoa(status) + ")")
	}
	return metadataGet("/latest/user-data", "X-aws-ec2-metadata-token: "+strings.TrimSpace(string(token)))
}

func metadataGet(path, header string) ([]byte, error) {
	status, body, err := httpRequest("GET", path, []string{header})
	switch {
	case err != nil:
		return nil, err
	case status == 404:
		return nil, errNoUserData
	case status != 200:
		return nil, errors.New("the metadata service answered HTTP " + strconv.Itoa(status))
	}
	return body, nil
}

// httpRequest makes one HTTP/1.0 request to the metadata service and returns the status and body.
func httpRequest(method, path string, headers []string) (int, []byte, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, nil, err
	}
	defer syscall.Close(fd)
	timeout := syscall.NsecToTimeval(metadataTimeout.Nanoseconds())
	_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &timeout)
	_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &timeout)
	if err := syscall.Connect(fd, &syscall.SockaddrInet4{Port: 80, Addr: [4]byte{169, 254, 169, 254}}); err != nil {
		return 0, nil, err
	}
	request := method + " " + path + " HTTP/1.0\r\nHost: " + metadataAddress + "\r\nUser-Agent: gopid1-init\r\nContent-Length: 0\r\n"
	for _, header := range headers {
		request += header + "\r\n"
	}
	if _, err := syscall.Write(fd, []byte(request+"\r\n")); err != nil {
		return 0, nil, err
	}
	var answer []byte
	buffer := make([]byte, 4096)
	for len(answer) < 1<<20 {
		n, err := syscall.Read(fd, buffer)
		if err != nil {
			return 0, nil, err
		}
		if n == 0 {
			break
		}
		answer = append(answer, buffer[:n]...)
	}
	head, body, found := strings.Cut(string(answer), "\r\n\r\n")
	fields := strings.Fields(head)
	if !found || len(fields) < 2 || !strings.HasPrefix(fields[0], "HTTP/") {
		return 0, nil, errors.New("not an HTTP answer")
	}
	status, err := strconv.Atoi(fields[1])
	return status, []byte(body), err
}

// parseUserData reads gopid1's lines; user-data in another format (a shell script, #cloud-config) is left alone.
func parseUserData(data []byte, config *hostConfig) {
	lines := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	if strings.TrimSpace(lines[0]) != userDataHeader {
		say("config: the instance's user-data does not start with " + userDataHeader + ": not gopid1's, left alone")
		return
	}
	for number, line := range lines[1:] {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if rest, isSecret := strings.CutPrefix(line, "secret:"); isSecret {
			name, encoded, _ := strings.Cut(rest, "=")
			value, err := base64.StdEncoding.DecodeString(encoded)
			if !validSecretName(name) || err != nil {
				say("config: user-data line " + strconv.Itoa(number+2) + " is not secret:NAME=BASE64: ignored")
				continue
			}
			config.secrets[name] = value
			continue
		}
		if key, _, found := strings.Cut(line, "="); !found || key == "" || strings.ContainsAny(key, " \t") {
			say("config: user-data line " + strconv.Itoa(number+2) + " is not KEY=VALUE: ignored")
			continue
		}
		config.env = append(config.env, line)
	}
}

func validSecretName(name string) bool {
	if name == "" || name == "." || name == ".." {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

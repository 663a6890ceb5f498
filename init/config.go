package main

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

const (
	// buildEnvPath holds the build's default environment (gopid1 build --env): "KEY=VALUE" entries, NUL-separated.
	buildEnvPath = "/etc/gopid1/env"
	// fwCfgRoot is where the kernel shows what gopid1 boot --env, --env-file and --secret gave QEMU's fw_cfg.
	fwCfgRoot  = "/sys/firmware/qemu_fw_cfg/by_name/opt/gopid1"
	secretsDir = "/run/secrets"
)

// appEnv is the app's environment: what Docker gives every container (PATH, HOSTNAME, HOME), the build's
// defaults, then the kernel's (its command line), then the host's (fw_cfg); a later one wins for the same name.
var appEnv []string

// credential is who the app runs as (gopid1 build --user UID[:GID]); nil: root, like the init.
var credential *syscall.Credential

// nulEntries splits "KEY=VALUE\x00KEY=VALUE\x00" into its well-formed entries.
func nulEntries(data []byte) []string {
	var entries []string
	for _, entry := range strings.Split(string(data), "\x00") {
		if key, _, found := strings.Cut(entry, "="); found && key != "" {
			entries = append(entries, entry)
		}
	}
	return entries
}

// mergeEnv gives each name its last value, in the order names first appeared.
func mergeEnv(lists ...[]string) []string {
	index := map[string]int{}
	var merged []string
	for _, list := range lists {
		for _, entry := range list {
			key, _, _ := strings.Cut(entry, "=")
			if at, seen := index[key]; seen {
				merged[at] = entry
				continue
			}
			index[key] = len(merged)
			merged = append(merged, entry)
		}
	}
	return merged
}

// hostConfig is what the host gave the machine at boot: environment entries and secrets (name → bytes).
type hostConfig struct {
	from    string // "the host" (fw_cfg), "user-data"
	env     []string
	secrets map[string][]byte
}

// readFwCfg reads what gopid1 boot --env, --env-file and --secret gave QEMU's fw_cfg.
func readFwCfg() hostConfig {
	config := hostConfig{from: "the host", secrets: map[string][]byte{}}
	if data, err := os.ReadFile(filepath.Join(fwCfgRoot, "env", "raw")); err == nil {
		config.env = nulEntries(data)
	}
	entries, _ := os.ReadDir(filepath.Join(fwCfgRoot, "secret"))
	for _, entry := range entries {
		data, err := os.ReadFile(filepath.Join(fwCfgRoot, "secret", entry.Name(), "raw"))
		if err != nil {
			say("config: secret " + entry.Name() + ": " + err.Error())
			continue
		}
		config.secrets[entry.Name()] = data
	}
	return config
}

// machineEnv is what Docker sets in every container before the image's own ENV: PATH, HOSTNAME, and HOME (root's
// /root; / for another user, whose /etc/passwd entry has no home of its own). Called after readConfig (--user).
func machineEnv() []string {
	home := "/root"
	if credential != nil && credential.Uid != 0 {
		home = "/"
	}
	hostname, _ := os.Hostname()
	return []string{"PATH=" + defaultPath, "HOSTNAME=" + hostname, "HOME=" + home}
}

// kernelEnv is what the kernel gave init: KEY=VALUE words of its command line, TERM=linux, and HOME=/, its own
// default, which gives way to the machine's HOME.
func kernelEnv() []string {
	var env []string
	for _, entry := range os.Environ() {
		if entry != "HOME=/" {
			env = append(env, entry)
		}
	}
	return env
}

// loadEnvironment puts the app's environment together: the machine's, the build's defaults, the kernel's, then
// each host config in order; it says how many names each gave.
func loadEnvironment(configs ...hostConfig) {
	built, _ := os.ReadFile(buildEnvPath)
	lists := [][]string{machineEnv(), nulEntries(built), kernelEnv()}
	for _, config := range configs {
		if len(config.env) > 0 {
			say("config: " + strconv.Itoa(len(config.env)) + " environment variables from " + config.from)
		}
		lists = append(lists, config.env)
	}
	appEnv = mergeEnv(lists...)
}

// loadSecrets writes each secret the host configs gave into /run/secrets/NAME (a tmpfs), mode 0400, owned by the
// app's user; a later config wins for the same name.
func loadSecrets(configs ...hostConfig) {
	secrets := map[string][]byte{}
	for _, config := range configs {
		for name, data := range config.secrets {
			secrets[name] = data
		}
	}
	if len(secrets) == 0 {
		return
	}
	uid, gid := 0, 0
	if credential != nil {
		uid, gid = int(credential.Uid), int(credential.Gid)
	}
	if err := os.MkdirAll(secretsDir, 0o755); err != nil {
		say("config: cannot make " + secretsDir + ": " + err.Error())
		return
	}
	var names []string
	for name, data := range secrets {
		if err := writeSecret(filepath.Join(secretsDir, name), data, uid, gid); err != nil {
			say("config: secret " + name + ": " + err.Error())
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	say("config: secrets in " + secretsDir + ": " + strings.Join(names, ", "))
}

func writeSecret(path string, data []byte, uid, gid int) error {
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_CLOEXEC, 0o400)
	if err != nil {
		return err
	}
	_, err = file.Write(data)
	if closeErr := file.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Chown(path, uid, gid)
	}
	return err
}

// parseUser reads "UID" or "UID:GID" (GID defaults to UID).
func parseUser(value string) *syscall.Credential {
	uidText, gidText, found := strings.Cut(value, ":")
	if !found {
		gidText = uidText
	}
	uid, err1 := strconv.ParseUint(uidText, 10, 32)
	gid, err2 := strconv.ParseUint(gidText, 10, 32)
	if err1 != nil || err2 != nil {
		return nil
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
}

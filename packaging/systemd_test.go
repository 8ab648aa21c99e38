package packaging

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// systemdHost is a container that runs systemd as pid 1.
type systemdHost struct {
	t    *testing.T
	name string
}

// sh runs a shell command in the container and returns its output.
func (h *systemdHost) sh(script string) string {
	h.t.Helper()
	out, err := exec.Command("docker", "exec", h.name, "sh", "-c", script).CombinedOutput()
	if err != nil {
		h.t.Fatalf("in %s: %s: %v\n%s", h.name, script, err, out)
	}
	return strings.TrimSpace(string(out))
}

func (h *systemdHost) show(unit, property string) string {
	h.t.Helper()
	return h.sh("systemctl show -P " + property + " " + unit)
}

func (h *systemdHost) waitActive(unit string) {
	h.t.Helper()
	if !waitUntil(60*time.Second, func() bool { return h.show(unit, "ActiveState") == "active" }) {
		h.t.Fatalf("%s is %s after 60s, want active\n%s", unit, h.show(unit, "ActiveState"),
			h.sh("journalctl --no-pager -n 30 -u "+unit+" || true"))
	}
}

// packagePath returns the one file in bin/packages that matches pattern.
func packagePath(t *testing.T, pattern string) string {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join("..", "bin", "packages", pattern))
	if len(matches) != 1 {
		t.Fatalf("packages matching bin/packages/%s: %v, want one: run make packages", pattern, matches)
	}
	return matches[0]
}

// bootSystemd imports the cached systemd rootfs and boots it. A privileged
// container is not possible where the host's capability bounding set lacks
// CAP_SYS_RESOURCE, so the container gets CAP_SYS_ADMIN, no seccomp
// filter and the host's cgroup tree, which is what systemd needs.
func bootSystemd(t *testing.T) *systemdHost {
	out, err := exec.Command("./rootfs.sh", "systemd").Output()
	if err != nil {
		t.Fatalf("build the systemd rootfs: %v", err)
	}
	const base = "lbd-systemd-base:bookworm"
	if _, err := dockerOutput("image", "inspect", base); err != nil {
		docker(t, "import", strings.TrimSpace(string(out)), base)
	}
	h := &systemdHost{t: t, name: uniqueName("lbdt-systemd-")}
	t.Cleanup(func() { dockerOutput("rm", "-f", "-v", h.name) })
	docker(t, "run", "-d", "--name", h.name, "--cap-add", "SYS_ADMIN",
		"--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
		"--cgroupns=host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--tmpfs", "/run", "--tmpfs", "/run/lock",
		base, "/sbin/init")
	var state string
	booted := waitUntil(60*time.Second, func() bool {
		state, _ = dockerOutput("exec", h.name, "systemctl", "is-system-running")
		return state == "running" || state == "degraded"
	})
	if !booted {
		t.Fatalf("systemd in %s is %q after 60s, want running", h.name, state)
	}
	return h
}

func TestSystemdPackage(t *testing.T) {
	requireDocker(t, "LBDTEST_SYSTEMD", "systemd-test")
	deb := packagePath(t, "lbd_*.deb")
	rpm := packagePath(t, "lbd-*.rpm")
	checkRPMList(t, rpm)

	h := bootSystemd(t)
	docker(t, "cp", deb, h.name+":/tmp/lbd.deb")
	h.sh("dpkg -i /tmp/lbd.deb")
	if got := h.sh("getent passwd lbd | cut -d: -f7"); got != "/usr/sbin/nologin" {
		t.Errorf("lbd user shell = %q, want /usr/sbin/nologin (created by postinstall)", got)
	}
	if out := h.sh("systemd-analyze verify /usr/lib/systemd/system/lbd@.service 2>&1; echo rc=$?"); !strings.HasSuffix(out, "rc=0") {
		t.Errorf("systemd-analyze verify lbd@.service: %s", out)
	}

	// Two workers on one host need their own gossip ports.
	for i, port := range []int{7956, 7957} {
		h.sh("sed -e 's/7956/" + strconv.Itoa(port) + "/' -e 's/builtins   = \\[\"echo\"\\]/builtins = [\"echo\", \"sleep\"]/' " +
			"/etc/lbd/worker.hcl > /etc/lbd/worker-" + strconv.Itoa(i+1) + ".hcl")
	}
	h.sh("systemctl start lbd@master lbd@worker-1 lbd@worker-2")
	for _, unit := range []string{"lbd@master", "lbd@worker-1", "lbd@worker-2"} {
		h.waitActive(unit)
	}
	if got := h.sh("lbd submit -type echo -wait hello"); got != "hello" {
		t.Errorf("lbd submit -type echo -wait hello = %q, want hello", got)
	}
	checkSandbox(t, h)
	exposure := h.sh("systemd-analyze security lbd@master | tail -1")
	t.Logf("systemd-analyze security: %s", exposure)
	if m := regexp.MustCompile(`exposure level for \S+: ([0-9.]+)`).FindStringSubmatch(exposure); m == nil {
		t.Errorf("no exposure level in %q", exposure)
	} else if level, _ := strconv.ParseFloat(m[1], 64); level > 2.5 {
		t.Errorf("exposure level = %.1f, want at most 2.5", level)
	}

	// A stopped worker drains: its running task ends succeeded on it.
	id := h.sh("lbd submit -type sleep 4s")
	if !waitUntil(20*time.Second, func() bool {
		return strings.Contains(h.sh("curl -s http://127.0.0.1:7948/v1/workers"), `"busy":1`)
	}) {
		t.Fatalf("no worker runs task %s after 20s: %s", id, h.sh("curl -s http://127.0.0.1:7948/v1/workers"))
	}
	start := time.Now()
	h.sh("systemctl stop lbd@worker-1 lbd@worker-2")
	t.Logf("systemctl stop of both workers with one running task took %s", time.Since(start).Round(time.Millisecond))
	for _, unit := range []string{"lbd@worker-1", "lbd@worker-2"} {
		if got := h.show(unit, "Result"); got != "success" {
			t.Errorf("%s Result after stop = %q, want success (drained, exit 0)", unit, got)
		}
	}
	if got := h.sh("curl -s 'http://127.0.0.1:7948/v1/tasks/" + id + "?wait=30s'"); !strings.Contains(got, `"succeeded"`) {
		t.Errorf("task %s after the workers drained: %s, want succeeded", id, got)
	}

	// SIGKILL of the main process: Restart=on-failure starts it again.
	h.sh("systemctl start lbd@worker-1")
	h.waitActive("lbd@worker-1")
	before := h.show("lbd@worker-1", "NRestarts")
	h.sh("systemctl kill --kill-whom=main --signal=SIGKILL lbd@worker-1")
	if !waitUntil(30*time.Second, func() bool {
		return h.show("lbd@worker-1", "NRestarts") != before && h.show("lbd@worker-1", "ActiveState") == "active"
	}) {
		t.Errorf("lbd@worker-1 after SIGKILL: NRestarts %s (was %s), state %s, want restarted and active",
			h.show("lbd@worker-1", "NRestarts"), before, h.show("lbd@worker-1", "ActiveState"))
	}
	if got := h.sh("lbd submit -type sleep -wait 100ms"); got != "slept 100ms" {
		t.Errorf("task on the restarted worker = %q, want \"slept 100ms\"", got)
	}
}

// checkSandbox compares the unit's properties as systemd loaded them.
func checkSandbox(t *testing.T, h *systemdHost) {
	want := map[string]string{
		"Type":            "notify",
		"User":            "lbd",
		"KillMode":        "mixed",
		"Restart":         "on-failure",
		"NoNewPrivileges": "yes",
		"ProtectSystem":   "strict",
		"ProtectHome":     "yes",
		"PrivateTmp":      "yes",
		"TimeoutStopUSec": "45s",
		"WatchdogUSec":    "30s",
		"LimitNOFILE":     "65536",
		"StateDirectory":  "lbd/master",
	}
	for prop, value := range want {
		if got := h.show("lbd@master", prop); got != value {
			t.Errorf("lbd@master %s = %q, want %q", prop, got, value)
		}
	}
	if got := h.show("lbd@master", "StatusText"); !strings.HasPrefix(got, "master: ") {
		t.Errorf("lbd@master StatusText = %q, want the master's STATUS=", got)
	}
}

// checkRPMList lists the rpm with rpm -qpl on this machine.
func checkRPMList(t *testing.T, rpm string) {
	if _, err := exec.LookPath("rpm"); err != nil {
		t.Errorf("rpm is missing, so the .rpm is unchecked: apt-get install rpm")
		return
	}
	out, err := exec.Command("rpm", "-qpl", rpm).CombinedOutput()
	if err != nil {
		t.Fatalf("rpm -qpl %s: %v\n%s", rpm, err, out)
	}
	for _, path := range []string{"/usr/bin/lbd", "/usr/lib/systemd/system/lbd@.service", "/etc/lbd/master.hcl", "/etc/lbd/worker.hcl"} {
		if !strings.Contains(string(out)+"\n", path+"\n") {
			t.Errorf("rpm -qpl %s lacks %s:\n%s", filepath.Base(rpm), path, out)
		}
	}
	cfg, _ := exec.Command("rpm", "-qpc", rpm).CombinedOutput()
	if !strings.Contains(string(cfg), "/etc/lbd/master.hcl") {
		t.Errorf("rpm -qpc lists no /etc/lbd/master.hcl as a config file:\n%s", cfg)
	}
}

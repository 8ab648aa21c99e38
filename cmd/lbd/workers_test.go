package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/lbd-dev/lbd/api"
)

func workers(args ...string) cliResult {
	var out, errOut bytes.Buffer
	code := runWorkers(args, &out, &errOut)
	return cliResult{code: code, stdout: out.String(), stderr: errOut.String()}
}

func TestWorkersTable(t *testing.T) {
	addr, _ := startMaster(t, true)
	r := workers("-http-addr", addr)
	r.check(t, exitOK)

	want := "NODE  ADDR           SLOTS  BUSY  DONE  TYPES\n" +
		"w1    10.0.0.7:7947  8      0     0     echo,fail\n"
	if r.stdout != want {
		t.Errorf("table\n%s\nwant\n%s", r.stdout, want)
	}
}

func TestWorkersJSON(t *testing.T) {
	addr, _ := startMaster(t, true)
	r := workers("-http-addr", addr, "-json")
	r.check(t, exitOK)

	var out api.WorkersResponse
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("output %q is not JSON: %v", r.stdout, err)
	}
	if len(out.Workers) != 1 || out.Workers[0].Node != "w1" || out.Workers[0].Slots != 8 {
		t.Errorf("workers %+v, want w1 with 8 slots", out.Workers)
	}
}

func TestWorkersNoneConnected(t *testing.T) {
	addr, _ := startMaster(t, false)
	r := workers("-http-addr", addr)
	r.check(t, exitOK, "no worker is connected")
	if strings.TrimSpace(r.stdout) != "NODE  ADDR  SLOTS  BUSY  DONE  TYPES" {
		t.Errorf("stdout %q, want the header alone", r.stdout)
	}
}

func TestWorkersErrors(t *testing.T) {
	workers("-http-addr", closedAddr(t)).check(t, exitUnreachable, "lbd workers: master unreachable")
	workers("-http-addr", closedAddr(t), "extra").check(t, exitUsage, `unexpected argument "extra"`)
	workers("-bogus").check(t, exitUsage, "flag provided but not defined")
	workers("-h").check(t, exitOK, "usage: lbd workers")
}

package process

import (
	"os"
	"os/user"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/graph-network-harness/harness/target"
)

func TestCredential(t *testing.T) {
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody on this host")
	}
	nobodyCred := func(gid uint32) *syscall.Credential {
		uid, primary, groups, err := parseIDs(nobody)
		if err != nil {
			t.Fatal(err)
		}
		if gid == 0 {
			gid = primary
		}
		return &syscall.Credential{Uid: uid, Gid: gid, Groups: groups}
	}
	tests := []struct {
		name       string
		spec       string
		euid, egid int
		want       *syscall.Credential
		wantErr    error
	}{
		{name: "no user", spec: "", want: nil},
		{name: "name", spec: "nobody", want: nobodyCred(0)},
		{name: "uid", spec: nobody.Uid, want: nobodyCred(0)},
		{name: "name and group number", spec: "nobody:4242", want: nobodyCred(4242)},
		{name: "uid with no passwd entry", spec: "4242", want: &syscall.Credential{Uid: 4242, Groups: []uint32{}}},
		{name: "uid and gid with no entries", spec: "4242:4343", want: &syscall.Credential{Uid: 4242, Gid: 4343, Groups: []uint32{}}},
		{name: "unknown name", spec: "no-such-user-anywhere", wantErr: target.ErrInvalidSpec},
		{name: "unknown group", spec: "nobody:no-such-group-anywhere", wantErr: target.ErrInvalidSpec},
		{name: "empty name", spec: ":0", wantErr: target.ErrInvalidSpec},
		{name: "empty group", spec: "nobody:", wantErr: target.ErrInvalidSpec},
		{name: "uid out of range", spec: "99999999999", wantErr: target.ErrInvalidSpec},
		{name: "another user without root", spec: "nobody", euid: 1000, egid: 1000, wantErr: target.ErrInvalidSpec},
		{name: "own user without root", spec: "4242", euid: 4242, egid: 4242, want: nil},
		{name: "own user, another group, without root", spec: "4242:1", euid: 4242, egid: 4242, wantErr: target.ErrInvalidSpec},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := credential(tc.spec, tc.euid, tc.egid)
			if diff := cmp.Diff(tc.wantErr, err, cmpopts.EquateErrors()); diff != "" {
				t.Fatalf("error (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("credential (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolveArgv0(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	write := func(path string, mode os.FileMode) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(bin, "prog"), 0o755)
	write(filepath.Join(bin, "data"), 0o644)
	write(filepath.Join(dir, "other", "prog"), 0o755)
	if err := os.Mkdir(filepath.Join(bin, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	sh, err := resolveArgv0("sh", "", []string{"PATH=" + defaultPath})
	if err != nil {
		t.Fatalf("sh not in %s: %v", defaultPath, err)
	}
	tests := []struct {
		name, argv0, dir string
		env              []string
		want             string
		wantErr          error
	}{
		{name: "absolute", argv0: filepath.Join(bin, "prog"), want: filepath.Join(bin, "prog")},
		{name: "relative to dir", argv0: "./bin/prog", dir: dir, want: filepath.Join(bin, "prog")},
		{name: "relative with a subdirectory", argv0: "bin/prog", dir: dir, want: filepath.Join(bin, "prog")},
		{name: "in PATH", argv0: "prog", env: []string{"PATH=/nonexistent:" + bin}, want: filepath.Join(bin, "prog")},
		{name: "PATH order", argv0: "prog", env: []string{"PATH=" + filepath.Join(dir, "other") + ":" + bin}, want: filepath.Join(dir, "other", "prog")},
		{name: "last PATH wins", argv0: "prog", env: []string{"PATH=/nonexistent", "PATH=" + bin}, want: filepath.Join(bin, "prog")},
		{name: "relative PATH entries skipped", argv0: "prog", dir: bin, env: []string{"PATH=.:bin:"}, wantErr: target.ErrInvalidSpec},
		{name: "no PATH: the default", argv0: "sh", env: []string{"HOME=/"}, want: sh},
		{name: "not in PATH", argv0: "prog", env: []string{"PATH=/nonexistent"}, wantErr: target.ErrInvalidSpec},
		{name: "not executable in PATH", argv0: "data", env: []string{"PATH=" + bin}, wantErr: target.ErrInvalidSpec},
		{name: "not executable", argv0: "./data", dir: bin, wantErr: target.ErrInvalidSpec},
		{name: "a directory", argv0: "./sub", dir: bin, wantErr: target.ErrInvalidSpec},
		{name: "missing", argv0: "./missing", dir: bin, wantErr: target.ErrInvalidSpec},
		{name: "empty", argv0: "", wantErr: target.ErrInvalidSpec},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resolveArgv0(tc.argv0, tc.dir, tc.env)
			if diff := cmp.Diff(tc.wantErr, err, cmpopts.EquateErrors()); diff != "" {
				t.Fatalf("error (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("resolveArgv0 (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseSignal(t *testing.T) {
	tests := []struct {
		name    string
		want    syscall.Signal
		wantErr bool
	}{
		{name: "SIGHUP", want: syscall.SIGHUP},
		{name: "HUP", want: syscall.SIGHUP},
		{name: "term", want: syscall.SIGTERM},
		{name: " SIGINT ", want: syscall.SIGINT},
		{name: "9", want: syscall.SIGKILL},
		{name: "SIGRTMIN", wantErr: true}, // not in x/sys/unix's table
		{name: "SIGNOPE", wantErr: true},
		{name: "0", wantErr: true},
		{name: "65", wantErr: true},
		{name: "", wantErr: true},
	}
	for _, tc := range tests {
		got, err := parseSignal(tc.name)
		if diff := cmp.Diff(tc.wantErr, err != nil); diff != "" {
			t.Errorf("parseSignal(%q) error %v (-want +got):\n%s", tc.name, err, diff)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("parseSignal(%q) (-want +got):\n%s", tc.name, diff)
		}
	}
	if diff := cmp.Diff("SIG40", signalName(40)); diff != "" {
		t.Errorf("signalName(40) (-want +got):\n%s", diff)
	}
}

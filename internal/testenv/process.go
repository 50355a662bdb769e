package testenv

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Bounds for the private server processes.
const (
	readyTimeout = 30 * time.Second
	stopTimeout  = 15 * time.Second
)

// process is one private server process owned by a test: started as a child
// (killed by the kernel if the test binary dies), stopped and waited for.
type process struct {
	t       testing.TB
	name    string          // "redis-server", "postgres"
	args    func() []string // the command line, path first
	cred    *syscall.Credential
	dir     string
	logPath string
	stopSig os.Signal
	ready   func(ctx context.Context) error
	// wait bounds start; 0 is readyTimeout.
	wait time.Duration

	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been waited for
}

func (p *process) running() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// start launches the process and waits until ready answers, failing the
// test with the log's tail if it does not within wait (readyTimeout by
// default).
func (p *process) start() {
	p.t.Helper()
	if p.running() {
		p.t.Fatalf("grelmicro testenv: %s is already running", p.name)
	}
	log, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatalf("grelmicro testenv: %s log: %v", p.name, err)
	}
	defer log.Close() // the child keeps its own copy
	args := p.args()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = p.dir
	cmd.Stdout = log
	cmd.Stderr = log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: p.cred}
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("grelmicro testenv: start %s: %v", p.name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	p.cmd, p.done = cmd, done

	wait := p.wait
	if wait == 0 {
		wait = readyTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, time.Second)
		err := p.ready(attempt)
		cancelAttempt()
		if err == nil {
			return
		}
		select {
		case <-done:
			p.t.Fatalf("grelmicro testenv: %s exited during start (%v)%s", p.name, cmd.ProcessState, p.logTail())
		case <-ctx.Done():
			p.kill()
			p.t.Fatalf("grelmicro testenv: %s not ready after %v: %v%s", p.name, wait, err, p.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop sends stopSig, waits up to stopTimeout, then kills and waits.
func (p *process) stop() {
	p.t.Helper()
	if !p.running() {
		return
	}
	_ = p.cmd.Process.Signal(p.stopSig)
	select {
	case <-p.done:
		return
	case <-time.After(stopTimeout):
	}
	if !p.kill() {
		p.t.Fatalf("grelmicro testenv: %s (pid %d) survived SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

func (p *process) kill() bool {
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
		return true
	case <-time.After(stopTimeout):
		return false
	}
}

func (p *process) logTail() string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	const maxTail = 4096
	if st, err := f.Stat(); err == nil && st.Size() > maxTail {
		_, _ = f.Seek(-maxTail, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return "\n--- " + p.logPath + " (tail) ---\n" + string(b)
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("grelmicro testenv: no free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// findBinary returns the path of a server binary: the variable's value, else
// the first of the candidates that exists, else the name on PATH.
func findBinary(variable, name string, candidates ...string) (string, error) {
	if v, _ := lookup(variable); v != "" {
		if _, err := os.Stat(v); err == nil {
			return v, nil
		}
	}
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return c, nil
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found (set %s or install it)", name, variable)
	}
	return filepath.Abs(p)
}

func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

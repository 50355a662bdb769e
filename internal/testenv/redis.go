package testenv

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// RedisEnv is the shared Redis server, seen by one test.
type RedisEnv struct {
	// URL is the server's redis:// URL (GREL_TEST_REDIS_URL).
	URL string
	// Addr is host:port.
	Addr string
	// Prefix is unique to this test ("grel:test:<random>:"); every key that
	// starts with it is deleted at cleanup.
	Prefix string
}

// Redis returns the shared Redis server with a key prefix unique to the
// test. It skips the test (fails it under CI) when the server is absent.
func Redis(t testing.TB) RedisEnv {
	t.Helper()
	url, where := lookup(redisURLVar)
	if url == "" {
		unavailable(t, "Redis", where, nil)
	}
	opts, err := redisOptions(url)
	if err != nil {
		t.Fatalf("grelmicro testenv: %s (from %s) is not a Redis URL", redisURLVar, where)
	}
	if err := redisPing(opts); err != nil {
		unavailable(t, "Redis", opts.Addr, err)
	}
	prefix := "grel:test:" + randomHex(4) + ":"
	t.Cleanup(func() {
		if err := redisDeletePrefix(opts, prefix); err != nil {
			t.Errorf("grelmicro testenv: delete Redis keys %s*: %v", prefix, err)
		}
	})
	return RedisEnv{URL: url, Addr: opts.Addr, Prefix: prefix}
}

func redisOptions(url string) (*redis.Options, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	opts.DialTimeout = pingTimeout
	opts.ReadTimeout = 10 * time.Second
	opts.WriteTimeout = 10 * time.Second
	opts.PoolSize = 2
	opts.DialerRetries = 1
	opts.DisableIdentity = true
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return opts, nil
}

func redisPing(opts *redis.Options) error {
	ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
	defer cancel()
	// A plain dial first: go-redis logs every failed dial on its global
	// logger, which would clutter the output of every skipped test.
	if opts.Network == "" || opts.Network == "tcp" {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", opts.Addr)
		if err != nil {
			return err
		}
		_ = conn.Close()
	}
	c := redis.NewClient(opts)
	defer c.Close()
	return c.Ping(ctx).Err()
}

// redisDeletePrefix deletes every key starting with prefix (SCAN + UNLINK).
func redisDeletePrefix(opts *redis.Options, prefix string) error {
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := c.Unlink(ctx, batch...).Err()
		batch = batch[:0]
		return err
	}
	// The prefix is "grel:test:<hex>:": no glob metacharacter to escape.
	it := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for it.Next(ctx) {
		batch = append(batch, it.Val())
		if len(batch) == 500 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	return flush()
}

// RedisProcess is a private redis-server owned by one test, on its own
// loopback port, with no persistence unless the test asks for it. Stop,
// Start and Restart keep the port and the data folder.
type RedisProcess struct {
	// URL is redis://127.0.0.1:<port>/0.
	URL string
	// Addr is 127.0.0.1:<port>.
	Addr string

	p *process
}

// StartRedis starts a private redis-server for the test (for tests that stop
// or restart the server under a client) and stops it at cleanup. config is
// more redis-server options, appended to the command line after the
// defaults (no RDB save, no AOF), so they win: "--appendonly", "yes",
// "--appendfsync", "always" keeps every acknowledged write across Stop and
// Start. It skips the test (fails it under CI) when redis-server is not
// installed.
func StartRedis(t testing.TB, config ...string) *RedisProcess {
	t.Helper()
	bin, err := findBinary(redisServerVar, "redis-server", "/usr/bin/redis-server")
	if err != nil {
		unavailable(t, "redis-server", "this machine", err)
	}
	dir := t.TempDir()
	addr := hostPort(freePort(t))
	_, port, _ := net.SplitHostPort(addr)
	r := &RedisProcess{URL: "redis://" + addr + "/0", Addr: addr}
	r.p = &process{
		t:    t,
		name: "redis-server",
		args: func() []string {
			return append([]string{bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no",
				"--dir", dir, "--daemonize", "no", "--logfile", ""}, config...)
		},
		dir:     dir,
		logPath: dir + "/redis.log",
		stopSig: syscall.SIGKILL,
		ready:   func(ctx context.Context) error { return rawRedisPing(ctx, addr) },
	}
	r.p.start()
	t.Cleanup(r.p.stop)
	return r
}

// Stop kills the server (a crash: nothing is saved, only what the AOF, if
// the test turned it on, already holds) and waits for it.
func (r *RedisProcess) Stop() { r.p.t.Helper(); r.p.stop() }

// Start starts the server again on the same port and waits until it answers
// PING. Its data is gone, unless the AOF kept it.
func (r *RedisProcess) Start() { r.p.t.Helper(); r.p.start() }

// Restart is Stop then Start.
func (r *RedisProcess) Restart() {
	r.p.t.Helper()
	r.p.stop()
	r.p.start()
}

// rawRedisPing speaks RESP directly so that the readiness loop needs no
// client (and leaves no pool behind).
func rawRedisPing(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %s", strconv.Quote(line))
	}
	return nil
}

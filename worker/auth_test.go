package worker

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/wire"
)

func authConfig(key []byte) Config {
	cfg := Config{Slots: 1, Handlers: map[string]Handler{"echo": Echo()}}
	if key != nil {
		cfg.GossipKey = func() []byte { return key }
	}
	return cfg
}

func TestWorkerAnswersChallenge(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	m := newTestMaster(t)
	w := startWorker(t, m, authConfig(key))
	c := m.accept(t)

	nonce, err := wire.NewNonce()
	if err != nil {
		t.Fatal(err)
	}
	c.send(t, wire.TypeChallenge, &wire.Challenge{Nonce: nonce})
	_ = c.conn.SetReadDeadline(time.Now().Add(waitLimit))
	typ, body, err := c.conn.Recv()
	if err != nil {
		t.Fatalf("read the answer to the challenge: %v", err)
	}
	if typ != wire.TypeAuth {
		t.Fatalf("answer to the challenge is %s, want auth", typ)
	}
	var auth wire.Auth
	if err := c.conn.Decode(body, &auth); err != nil {
		t.Fatal(err)
	}
	if !wire.VerifyAuth([][]byte{key}, nonce, "worker-1", nil, auth.MAC) {
		t.Fatal("the worker's auth does not verify with its key")
	}
	_ = c.conn.SetReadDeadline(time.Time{})

	c.welcome(t, welcomeOptions{proofKey: key})
	waitUntil(t, "worker connected after auth", func() bool { return w.Stats().Connected })
}

func TestWorkerRejectsMasterWithoutProof(t *testing.T) {
	logger, read := testLogger(t)
	key := bytes.Repeat([]byte{7}, 32)
	cfg := authConfig(key)
	cfg.Logger = logger
	m := newTestMaster(t)
	w := startWorker(t, m, cfg)
	c := m.accept(t)
	if len(c.hello.Nonce) != wire.NonceSize {
		t.Fatalf("hello nonce of %d bytes, want %d from a worker with a key", len(c.hello.Nonce), wire.NonceSize)
	}

	// An impostor can make the worker respond to its challenge, but it cannot
	// prove the key in Welcome: here it proves another key.
	nonce, _ := wire.NewNonce()
	c.send(t, wire.TypeChallenge, &wire.Challenge{Nonce: nonce})
	_ = c.conn.SetReadDeadline(time.Now().Add(waitLimit))
	if typ, _, err := c.conn.Recv(); err != nil || typ != wire.TypeAuth {
		t.Fatalf("worker answered the challenge with %s, %v; want auth", typ, err)
	}
	_ = c.conn.SetReadDeadline(time.Time{})
	c.welcome(t, welcomeOptions{proofKey: bytes.Repeat([]byte{8}, 32)})

	waitUntil(t, "log names the missing proof", func() bool {
		return strings.Contains(read(), "did not prove that it holds the gossip key")
	})
	if w.Stats().Connected {
		t.Error("worker counts itself connected to a master that proved no key")
	}
}

func TestWorkerWithoutKeyRefusesChallenge(t *testing.T) {
	logger, read := testLogger(t)
	cfg := authConfig(nil)
	cfg.Logger = logger
	m := newTestMaster(t)
	startWorker(t, m, cfg)
	c := m.accept(t)
	nonce, _ := wire.NewNonce()
	c.send(t, wire.TypeChallenge, &wire.Challenge{Nonce: nonce})

	// The worker closes the connection instead of sending an Auth.
	_ = c.conn.SetReadDeadline(time.Now().Add(waitLimit))
	if typ, _, err := c.conn.Recv(); err == nil {
		t.Fatalf("worker without a key answered the challenge with %s, want a closed connection", typ)
	}
	waitUntil(t, "log names the missing key", func() bool {
		return strings.Contains(read(), "this worker has no gossip key")
	})
}

func TestWorkerWithKeyRefusesUnchallengedWelcome(t *testing.T) {
	logger, read := testLogger(t)
	cfg := authConfig(bytes.Repeat([]byte{7}, 16))
	cfg.Logger = logger
	m := newTestMaster(t)
	w := startWorker(t, m, cfg)
	c := m.accept(t)
	c.welcome(t, welcomeOptions{})

	waitUntil(t, "log names the unchallenged welcome", func() bool {
		return strings.Contains(read(), "without a challenge")
	})
	if w.Stats().Connected {
		t.Error("worker with a key accepted a master that did not challenge it")
	}
}

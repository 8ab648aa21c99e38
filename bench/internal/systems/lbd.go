package systems

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lbd-dev/lbd/bench/internal/proc"
)

// LBD is an lbd master and its workers, each a process of the lbd binary.
type LBD struct {
	opts     Options
	Master   *proc.Proc
	HTTP     string // master API address
	Gossip   string // master gossip address, the workers' seed
	TaskAddr string // master task address
	DataDir  string
	http     *http.Client

	// MasterPath runs the master; the lbd binary unless set before Start.
	MasterPath string
	// MasterEnv is added to the master's environment.
	MasterEnv []string
	// WorkerPath runs the workers; the lbd binary unless set before
	// StartWorkers.
	WorkerPath string
	// WorkerEnv, when set, returns what is added to the environment of the
	// worker with the given node name.
	WorkerEnv func(node string) []string

	mu      sync.Mutex
	workers []*proc.Proc
	ids     []string // job index -> task id
	nextW   int
}

// StartLBD is the Factory of lbd: a master with durability fsync or none.
func StartLBD(ctx context.Context, opts Options) (System, error) {
	l, err := NewLBD(opts)
	if err != nil {
		return nil, err
	}
	if err := l.StartMaster(ctx); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// NewLBD prepares a cluster on free loopback ports without starting it.
func NewLBD(opts Options) (*LBD, error) {
	l := &LBD{opts: opts, MasterPath: opts.LBD, DataDir: opts.Dir}
	for _, addr := range []*string{&l.HTTP, &l.Gossip, &l.TaskAddr} {
		a, err := proc.FreeAddr()
		if err != nil {
			return nil, err
		}
		*addr = a
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}
	l.http = &http.Client{Transport: tr}
	if opts.Rec != nil {
		l.ids = make([]string, opts.Rec.Len())
	}
	return l, nil
}

// Name returns "lbd memory" or "lbd durable".
func (l *LBD) Name() string {
	if l.opts.Durable {
		return "lbd durable"
	}
	return "lbd memory"
}

// StartMaster starts the master process and waits until its API responds.
func (l *LBD) StartMaster(ctx context.Context) error {
	p, err := l.SpawnMaster(ctx)
	if err != nil {
		return err
	}
	if err := l.WaitHealthy(ctx, p, 60*time.Second); err != nil {
		return err
	}
	return nil
}

// NodeEnv is added to the environment of every lbd process, master and
// workers, for settings that a whole run turns on (LBD_ENCRYPT, say).
var NodeEnv []string

// Queues spreads submitted tasks over this many queues, q0 to q(Queues-1),
// and makes every worker serve all of them with weight 1; 0 or 1 keeps
// every task in the default queue.
var Queues int

// workerQueues returns the -queues value for Queues queues.
func workerQueues() string {
	var b strings.Builder
	for i := range Queues {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "q%d=1", i)
	}
	return b.String()
}

// SpawnMaster starts the master process and returns at once.
func (l *LBD) SpawnMaster(ctx context.Context) (*proc.Proc, error) {
	durability := "none"
	if l.opts.Durable {
		durability = "fsync"
	}
	args := []string{
		"-role", "master", "-node", "bench-master",
		"-bind", l.Gossip, "-task-addr", l.TaskAddr, "-http-addr", l.HTTP,
		"-data-dir", l.DataDir, "-durability", durability, "-log-level", "warn",
		"-max-queued-tasks", "3000000", "-max-queued-bytes", "4GiB",
	}
	p, err := proc.Start(ctx, "lbd master", l.MasterPath, append(slices.Clone(NodeEnv), l.MasterEnv...), args...)
	if err != nil {
		return nil, err
	}
	l.Master = p
	return p, nil
}

// WaitHealthy polls GET /healthz until it returns 200.
func (l *LBD) WaitHealthy(ctx context.Context, p *proc.Proc, timeout time.Duration) error {
	err := proc.Poll(timeout, time.Millisecond, func() (bool, error) {
		if p.Exited() {
			return false, fmt.Errorf("exited")
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		resp, err := l.http.Get("http://" + l.HTTP + "/healthz")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		return p.Failed("API not healthy", err)
	}
	return nil
}

// StartWorkers starts worker processes with the echo builtin and waits until
// the master counts their slots.
func (l *LBD) StartWorkers(ctx context.Context, workers, slots int) error {
	before, err := l.Status(ctx)
	if err != nil {
		return err
	}
	for range workers {
		if _, err := l.SpawnWorker(ctx, slots); err != nil {
			return err
		}
	}
	want := before.Slots + workers*slots
	err = proc.Poll(60*time.Second, 5*time.Millisecond, func() (bool, error) {
		st, err := l.Status(ctx)
		if err != nil {
			return false, err
		}
		return st.Slots >= want, nil
	})
	if err != nil {
		return l.Master.Failed(fmt.Sprintf("waiting for %d slots", want), err)
	}
	return nil
}

// SpawnWorker starts one worker process with slots slots and returns at once.
func (l *LBD) SpawnWorker(ctx context.Context, slots int, extra ...string) (*proc.Proc, error) {
	l.mu.Lock()
	l.nextW++
	name := "bench-worker-" + strconv.Itoa(l.nextW)
	l.mu.Unlock()
	args := append([]string{
		"-role", "worker", "-node", name, "-bind", "127.0.0.1:0",
		"-join", l.Gossip, "-population", strconv.Itoa(slots),
		"-builtins", "echo,sleep", "-log-level", "warn",
	}, extra...)
	if Queues > 1 {
		args = append(args, "-queues", workerQueues())
	}
	path, env := l.opts.LBD, NodeEnv
	if l.WorkerPath != "" {
		path = l.WorkerPath
	}
	if l.WorkerEnv != nil {
		env = append(slices.Clone(env), l.WorkerEnv(name)...)
	}
	p, err := proc.Start(ctx, name, path, env, args...)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.workers = append(l.workers, p)
	l.mu.Unlock()
	return p, nil
}

// Status returns GET /v1/status.
func (l *LBD) Status(ctx context.Context) (Status, error) {
	var st Status
	err := l.getJSON(ctx, "/v1/status", &st)
	return st, err
}

// Task returns GET /v1/tasks/{id}.
func (l *LBD) Task(ctx context.Context, id string) (Task, error) {
	var t Task
	err := l.getJSON(ctx, "/v1/tasks/"+id, &t)
	return t, err
}

func (l *LBD) getJSON(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+l.HTTP+path, nil)
	if err != nil {
		return err
	}
	resp, err := l.http.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: read body: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d: %s", path, resp.StatusCode, bytes.TrimSpace(body))
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("GET %s: decode: %w", path, err)
	}
	return nil
}

// SubmitBatch sends reqs in one POST /v1/tasks/batch and returns the ids.
func (l *LBD) SubmitBatch(ctx context.Context, body []byte) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+l.HTTP+"/v1/tasks/batch", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := l.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("POST /v1/tasks/batch: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("POST /v1/tasks/batch: read body: %w", err)
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("POST /v1/tasks/batch: status %d: %s", resp.StatusCode, bytes.TrimSpace(raw))
	}
	var out batchResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("POST /v1/tasks/batch: decode: %w", err)
	}
	return out.IDs, nil
}

// BatchBody returns the JSON array of count tasks of type typ whose
// payloads are those of jobs first to first+count-1, or payload when it is
// not empty.
func BatchBody(typ string, first, count int, payload string) []byte {
	b := make([]byte, 0, count*(PayloadSize+40))
	b = append(b, '[')
	for i := range count {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":"`...)
		b = append(b, typ...)
		b = append(b, `","payload":"`...)
		if payload != "" {
			b = append(b, payload...)
		} else {
			b = AppendPayload(b, first+i)
		}
		b = append(b, '"')
		if Queues > 1 {
			b = append(b, `,"queue":"q`...)
			b = strconv.AppendInt(b, int64((first+i)%Queues), 10)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// NewSubmitter returns a client that submits echo tasks in batches.
func (l *LBD) NewSubmitter(context.Context) (Submitter, error) {
	return &lbdSubmitter{l: l}, nil
}

type lbdSubmitter struct{ l *LBD }

func (s *lbdSubmitter) Submit(ctx context.Context, first, count int) error {
	ids, err := s.l.SubmitBatch(ctx, BatchBody("echo", first, count, ""))
	if err != nil {
		return err
	}
	if len(ids) != count {
		return fmt.Errorf("master returned %d ids for %d tasks", len(ids), count)
	}
	s.l.mu.Lock()
	for i, id := range ids {
		if j := first + i; j < len(s.l.ids) {
			s.l.ids[j] = id
		}
	}
	s.l.mu.Unlock()
	return nil
}

func (s *lbdSubmitter) Close() error { return nil }

// WaitDone polls the succeeded counter of GET /v1/status, which costs one
// request per poll instead of one per task.
func (l *LBD) WaitDone(ctx context.Context, n int) error {
	return waitCount(ctx, n, func() (int, error) {
		if l.Master.Exited() {
			return 0, l.Master.Failed("waiting for results", fmt.Errorf("exited"))
		}
		st, err := l.Status(ctx)
		if err != nil {
			return 0, err
		}
		return int(st.Succeeded), nil
	})
}

// FetchTimes reads the started and finished times of jobs first to
// first+count-1 from GET /v1/tasks/{id}, 16 requests at a time.
func (l *LBD) FetchTimes(ctx context.Context, first, count int) error {
	jobs := make(chan int)
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range jobs {
				l.mu.Lock()
				id := l.ids[i]
				l.mu.Unlock()
				if id == "" {
					continue
				}
				t, err := l.Task(ctx, id)
				if err != nil {
					errs <- err
					return
				}
				l.opts.Rec.SetTimes(i, t.Started, t.Finished)
			}
		})
	}
	var sendErr error
	for i := first; i < first+count; i++ {
		select {
		case jobs <- i:
			continue
		case sendErr = <-errs:
		}
		break
	}
	close(jobs)
	wg.Wait()
	if sendErr != nil {
		return sendErr
	}
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// Workers returns the worker processes started so far.
func (l *LBD) Workers() []*proc.Proc {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*proc.Proc(nil), l.workers...)
}

// Close kills every process and removes the data directory.
func (l *LBD) Close() {
	for _, w := range l.Workers() {
		w.Kill()
	}
	if l.Master != nil {
		l.Master.Kill()
	}
	if l.DataDir != "" {
		os.RemoveAll(l.DataDir)
	}
}

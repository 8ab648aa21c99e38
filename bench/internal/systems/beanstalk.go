package systems

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/beanstalkd/go-beanstalk"

	"github.com/lbd-dev/lbd/bench/internal/proc"
)

// beanTube is the tube every bench job goes through.
const beanTube = "bench"

// beanPipeline is how many puts one submitter keeps in flight on its
// connection; go-beanstalk pipelines concurrent commands on one Conn.
const beanPipeline = 16

// Beanstalk is a beanstalkd process, with its binlog and an fsync per write
// when durable.
type Beanstalk struct {
	opts   Options
	p      *proc.Proc
	addr   string
	mu     sync.Mutex
	conns  []*beanstalk.Conn
	failed chan error
}

// StartBeanstalk is the Factory of beanstalkd: memory, or durable with
// -b DIR -f 0 (fsync after every write to the binlog).
func StartBeanstalk(ctx context.Context, opts Options) (System, error) {
	port, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	b := &Beanstalk{opts: opts, addr: "127.0.0.1:" + strconv.Itoa(port), failed: make(chan error, 1)}
	args := []string{"-l", "127.0.0.1", "-p", strconv.Itoa(port)}
	if opts.Durable {
		args = append(args, "-b", opts.Dir, "-f", "0")
	}
	b.p, err = proc.Start(ctx, "beanstalkd", "beanstalkd", nil, args...)
	if err != nil {
		return nil, err
	}
	if err := proc.WaitListening(b.p, b.addr, 15*time.Second); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// BeanstalkVersion returns the output of beanstalkd -v.
func BeanstalkVersion() string { return commandVersion("beanstalkd", "-v") }

// Name returns "beanstalkd memory" or "beanstalkd durable".
func (b *Beanstalk) Name() string {
	if b.opts.Durable {
		return "beanstalkd durable"
	}
	return "beanstalkd memory"
}

func (b *Beanstalk) dial() (*beanstalk.Conn, error) {
	c, err := beanstalk.Dial("tcp", b.addr)
	if err != nil {
		return nil, fmt.Errorf("dial beanstalkd at %s: %w", b.addr, err)
	}
	b.mu.Lock()
	b.conns = append(b.conns, c)
	b.mu.Unlock()
	return c, nil
}

func (b *Beanstalk) fail(err error) {
	select {
	case b.failed <- err:
	default:
	}
}

// StartWorkers opens one connection per slot: a connection that reserved a
// job is busy until it deletes it.
func (b *Beanstalk) StartWorkers(ctx context.Context, workers, slots int) error {
	for range workers * slots {
		c, err := b.dial()
		if err != nil {
			return err
		}
		go b.work(c)
	}
	return nil
}

// work reserves, records and deletes jobs until the connection closes.
func (b *Beanstalk) work(c *beanstalk.Conn) {
	ts := beanstalk.NewTubeSet(c, beanTube)
	for {
		id, body, err := ts.Reserve(time.Second)
		if errors.Is(err, beanstalk.ErrTimeout) {
			continue
		}
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				b.fail(fmt.Errorf("beanstalk reserve: %w", err))
			}
			return
		}
		i, err := PayloadIndex(body)
		if err != nil {
			b.fail(err)
			return
		}
		b.opts.Rec.Started(i, time.Now())
		if err := c.Delete(id); err != nil {
			if !errors.Is(err, net.ErrClosed) {
				b.fail(fmt.Errorf("beanstalk delete %d: %w", id, err))
			}
			return
		}
		b.opts.Rec.Finished(i, time.Now())
	}
}

// NewSubmitter opens a client connection that puts jobs into the tube.
func (b *Beanstalk) NewSubmitter(context.Context) (Submitter, error) {
	c, err := b.dial()
	if err != nil {
		return nil, err
	}
	return &beanSubmitter{tube: beanstalk.NewTube(c, beanTube)}, nil
}

type beanSubmitter struct {
	tube *beanstalk.Tube
	used bool // the connection has sent "use" for the tube
}

// Submit puts jobs first to first+count-1, up to beanPipeline at a time on
// the one connection.
func (s *beanSubmitter) Submit(ctx context.Context, first, count int) error {
	put := func(i int) error {
		if _, err := s.tube.Put(Payload(i), 1024, 0, time.Minute); err != nil {
			return fmt.Errorf("beanstalk put: %w", err)
		}
		return nil
	}
	if !s.used {
		// The first put sends "use" and sets the connection's tube, which
		// go-beanstalk does not guard against concurrent callers.
		if err := put(first); err != nil {
			return err
		}
		s.used = true
		first, count = first+1, count-1
	}

	next := make(chan int)
	errs := make(chan error, beanPipeline)
	var wg sync.WaitGroup
	for range min(beanPipeline, count) {
		wg.Go(func() {
			for i := range next {
				if err := put(i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	err := feed(ctx, next, errs, first, count)
	wg.Wait()
	return err
}

// feed sends first to first+count-1 to next, closes it, and returns the
// first error from errs or ctx.
func feed(ctx context.Context, next chan<- int, errs chan error, first, count int) error {
	var err error
	for i := first; i < first+count && err == nil; i++ {
		select {
		case next <- i:
		case err = <-errs:
		case <-ctx.Done():
			err = context.Cause(ctx)
		}
	}
	close(next)
	if err != nil {
		return err
	}
	select {
	case err = <-errs:
	default:
	}
	return err
}

func (s *beanSubmitter) Close() error { return s.tube.Conn.Close() }

// WaitDone waits until the workers deleted n jobs.
func (b *Beanstalk) WaitDone(ctx context.Context, n int) error {
	return waitCount(ctx, n, func() (int, error) {
		select {
		case err := <-b.failed:
			return 0, err
		default:
		}
		return b.opts.Rec.FinishedCount(), nil
	})
}

// Close closes every connection and stops beanstalkd.
func (b *Beanstalk) Close() {
	b.mu.Lock()
	for _, c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	if b.p != nil {
		b.p.Stop(5 * time.Second)
	}
}

package systems

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const (
	natsStream   = "BENCH"
	natsSubject  = "bench.jobs"
	natsConsumer = "workers"
)

// NATS is a NATS server with JetStream embedded in the bench process: a
// work-queue stream read by one durable pull consumer that every worker
// shares.
type NATS struct {
	opts Options
	srv  *server.Server
	mu   sync.Mutex
	nc   []*nats.Conn
	stop chan struct{}

	failed chan error
}

// StartNATS is the Factory of NATS JetStream: memory storage, or file
// storage with sync_interval always (an fsync per write) when durable.
func StartNATS(ctx context.Context, opts Options) (System, error) {
	sopts := &server.Options{
		Host:       "127.0.0.1",
		Port:       -1,
		JetStream:  true,
		StoreDir:   opts.Dir,
		SyncAlways: opts.Durable,
		NoLog:      true,
		NoSigs:     true,
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("create NATS server: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(15 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("NATS server not ready for connections after 15s")
	}
	n := &NATS{opts: opts, srv: srv, stop: make(chan struct{}), failed: make(chan error, 1)}

	storage := jetstream.MemoryStorage
	if opts.Durable {
		storage = jetstream.FileStorage
	}
	js, err := n.connect()
	if err != nil {
		n.Close()
		return nil, err
	}
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{
		Name:      natsStream,
		Subjects:  []string{natsSubject},
		Retention: jetstream.WorkQueuePolicy,
		Storage:   storage,
	})
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("create stream %s: %w", natsStream, err)
	}
	return n, nil
}

// NATSVersion returns the embedded server's and the client's versions.
func NATSVersion() string {
	return "nats-server " + server.VERSION + " (embedded), nats.go " + nats.Version
}

// Name returns "JetStream memory" or "JetStream durable".
func (n *NATS) Name() string {
	if n.opts.Durable {
		return "JetStream durable"
	}
	return "JetStream memory"
}

func (n *NATS) connect() (jetstream.JetStream, error) {
	nc, err := nats.Connect(n.srv.ClientURL(), nats.MaxReconnects(0))
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", n.srv.ClientURL(), err)
	}
	n.mu.Lock()
	n.nc = append(n.nc, nc)
	n.mu.Unlock()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("JetStream context: %w", err)
	}
	return js, nil
}

func (n *NATS) fail(err error) {
	select {
	case n.failed <- err:
	default:
	}
}

// StartWorkers creates the consumer with MaxAckPending of every slot, then
// gives each worker its own connection, a pull iterator that keeps up to
// slots messages buffered, and slots goroutines that ack.
func (n *NATS) StartWorkers(ctx context.Context, workers, slots int) error {
	js, err := n.connect()
	if err != nil {
		return err
	}
	_, err = js.CreateOrUpdateConsumer(ctx, natsStream, jetstream.ConsumerConfig{
		Durable:       natsConsumer,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxAckPending: workers * slots,
	})
	if err != nil {
		return fmt.Errorf("create consumer %s: %w", natsConsumer, err)
	}
	for range workers {
		js, err := n.connect()
		if err != nil {
			return err
		}
		cons, err := js.Consumer(ctx, natsStream, natsConsumer)
		if err != nil {
			return fmt.Errorf("bind consumer %s: %w", natsConsumer, err)
		}
		it, err := cons.Messages(jetstream.PullMaxMessages(slots))
		if err != nil {
			return fmt.Errorf("pull from consumer %s: %w", natsConsumer, err)
		}
		msgs := make(chan jetstream.Msg)
		go n.pull(it, msgs)
		for range slots {
			go n.work(msgs)
		}
	}
	return nil
}

// pull hands messages from it to the slot goroutines until Close.
func (n *NATS) pull(it jetstream.MessagesContext, msgs chan<- jetstream.Msg) {
	defer close(msgs)
	go func() {
		<-n.stop
		it.Stop()
	}()
	for {
		msg, err := it.Next()
		if err != nil {
			if !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				select {
				case <-n.stop:
				default:
					n.fail(fmt.Errorf("JetStream pull: %w", err))
				}
			}
			return
		}
		msgs <- msg
	}
}

// work records each message and acks it, waiting for the server to confirm
// the ack (the message is then gone from the work queue).
func (n *NATS) work(msgs <-chan jetstream.Msg) {
	for msg := range msgs {
		i, err := PayloadIndex(msg.Data())
		if err != nil {
			n.fail(err)
			return
		}
		n.opts.Rec.Started(i, time.Now())
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = msg.DoubleAck(ctx)
		cancel()
		if err != nil {
			select {
			case <-n.stop:
			default:
				n.fail(fmt.Errorf("JetStream ack: %w", err))
			}
			return
		}
		n.opts.Rec.Finished(i, time.Now())
	}
}

// NewSubmitter opens a connection that publishes asynchronously.
func (n *NATS) NewSubmitter(context.Context) (Submitter, error) {
	js, err := n.connect()
	if err != nil {
		return nil, err
	}
	return &natsSubmitter{js: js}, nil
}

type natsSubmitter struct {
	js jetstream.JetStream
}

// Submit publishes jobs first to first+count-1 without waiting in between,
// then waits for the stream's acknowledgment of each.
func (s *natsSubmitter) Submit(ctx context.Context, first, count int) error {
	acks := make([]jetstream.PubAckFuture, 0, count)
	for i := first; i < first+count; i++ {
		f, err := s.js.PublishAsync(natsSubject, Payload(i))
		if err != nil {
			return fmt.Errorf("JetStream publish: %w", err)
		}
		acks = append(acks, f)
	}
	for _, f := range acks {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("JetStream publish: %w", err)
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	return nil
}

func (s *natsSubmitter) Close() error { return nil }

// WaitDone waits until the workers' acks of n messages were confirmed.
func (n *NATS) WaitDone(ctx context.Context, count int) error {
	return waitCount(ctx, count, func() (int, error) {
		select {
		case err := <-n.failed:
			return 0, err
		default:
		}
		return n.opts.Rec.FinishedCount(), nil
	})
}

// Close closes every connection and shuts the server down.
func (n *NATS) Close() {
	close(n.stop)
	n.mu.Lock()
	for _, nc := range n.nc {
		nc.Close()
	}
	n.mu.Unlock()
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
}

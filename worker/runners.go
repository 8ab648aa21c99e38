package worker

import "time"

// runnerIdle is how long an idle runner goroutine waits for the next
// attempt before it exits.
const runnerIdle = 10 * time.Second

// job is one attempt for a runner to execute.
type job struct {
	w       *Worker
	a       *attempt
	h       Handler
	payload []byte
}

// runnerPool runs attempts on goroutines that stay for the next attempt
// while the worker is busy. A goroutine that has run handlers keeps the
// stack they grew, so a steady stream of attempts neither starts a
// goroutine nor grows a stack per attempt.
type runnerPool struct {
	jobs chan job // unbuffered: a send succeeds only when a runner is idle
}

func newRunnerPool() runnerPool {
	return runnerPool{jobs: make(chan job)}
}

// run hands j to an idle runner, or starts a runner for it. It never
// blocks, so callers may hold Worker.mu.
func (p runnerPool) run(j job) {
	select {
	case p.jobs <- j:
	default:
		go p.loop(j)
	}
}

func (p runnerPool) loop(j job) {
	idle := time.NewTimer(runnerIdle)
	defer idle.Stop()
	for {
		j.w.run(j.a, j.h, j.payload)
		j = job{}
		idle.Reset(runnerIdle)
		select {
		case j = <-p.jobs:
		case <-idle.C:
			return
		}
	}
}

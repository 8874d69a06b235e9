package mailbox

import (
	"bytes"
	"context"
	"io"
	"sync"
	"sync/atomic"

	"github.com/mailplan/mailplan/resources/transport"
)

// maxStreams bounds the streams (transport.Streamer) one batch is read
// over: each is one command on the source, reading the files one after
// the other, and one goroutine here reading it.
const maxStreams = 4

// streamMin is the fewest messages worth a stream: starting a command
// over SSH takes a session, a shell and tar, longer than a few hundred
// small files take over SFTP. Tests lower it.
var streamMin = 512

// stageBatch writes the messages of batch to tmp/ and returns their
// temporary paths ("" for a message gone from the source). When the
// source can stream files, the batch comes over a few streams, with no
// request per message; what they did not bring (gone, changed, not a
// file, unreadable) and everything on another source is read a message
// at a time, cfg.parallelism in flight, which also tells why one cannot
// be read.
func (a *applier) stageBatch(ctx context.Context, batch []copyOp) ([]string, error) {
	staged := make([]string, len(batch))
	done := make([]bool, len(batch))
	_, syncer := a.dst.(transport.FSSyncer)
	name := func(i int) string { return "copying " + a.srcPath(batch[i]) }
	if st, ok := a.src.(transport.Streamer); ok && !a.noStream.Load() && len(batch) >= streamMin {
		if err := a.streamBatch(ctx, st, batch, staged, done, !syncer); err != nil {
			return staged, err
		}
	}
	var rest []int
	for i := range batch {
		if !done[i] {
			rest = append(rest, i)
		}
	}
	err := a.parallel(ctx, len(rest), func(j int) string { return name(rest[j]) }, func(ctx context.Context, j int) error {
		tmp, err := a.stage(ctx, batch[rest[j]], !syncer)
		staged[rest[j]] = tmp
		return err
	})
	return staged, err
}

// streamBatch stages the messages of batch the source's streams bring,
// marking each in done. A stream only reads: the messages it brings are
// written by cfg.parallelism workers, so that a slow create or write
// never holds a stream up (a large message, which would take too much
// memory to hand over, is written by the stream's goroutine).
func (a *applier) streamBatch(ctx context.Context, st transport.Streamer, batch []copyOp, staged []string, done []bool, fsync bool) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	type job struct {
		i   int
		buf *[]byte
	}
	jobs := make(chan job, a.cfg.parallelism)
	stageOne := func(i int, r io.Reader) error {
		return call(ctx, i, func(i int) string { return "copying " + a.srcPath(batch[i]) }, func(ctx context.Context, i int) error {
			tmp, err := a.stageFrom(ctx, batch[i], r, fsync)
			staged[i], done[i] = tmp, err == nil
			return err
		})
	}
	var workers sync.WaitGroup
	for range a.cfg.parallelism {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for j := range jobs {
				if ctx.Err() == nil {
					if err := stageOne(j.i, bytes.NewReader((*j.buf)[:batch[j.i].f.size])); err != nil {
						cancel(err)
					}
				}
				bufPool.Put(j.buf)
			}
		}()
	}
	n := max(1, min(maxStreams, a.cfg.parallelism, len(batch)/streamMin))
	var wg sync.WaitGroup
	var unable atomic.Bool
	for k := range n {
		var idx []int
		var paths []string
		for i := k; i < len(batch); i += n {
			idx = append(idx, i)
			paths = append(paths, a.srcPath(batch[i]))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := st.StreamFiles(ctx, paths, func(j int, size int64, r io.Reader) error {
				i := idx[j]
				switch {
				case size != batch[i].f.size:
					return nil // changed since listed: read on its own below
				case size > smallMessage:
					return stageOne(i, r)
				}
				bp := bufPool.Get().(*[]byte)
				if _, err := io.ReadFull(r, (*bp)[:size]); err != nil {
					bufPool.Put(bp)
					return err
				}
				select {
				case jobs <- job{i, bp}:
					return nil
				case <-ctx.Done():
					bufPool.Put(bp)
					return context.Cause(ctx)
				}
			})
			if !ok {
				unable.Store(true)
			}
			if err != nil {
				cancel(err)
			}
		}()
	}
	wg.Wait()
	close(jobs)
	workers.Wait()
	if unable.Load() {
		a.noStream.Store(true)
	}
	return context.Cause(ctx)
}

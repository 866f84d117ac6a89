package logfile

import (
	"bufio"
	"context"
	"io"
)

// NewReader returns the lines stored at path as a stream of bytes, each line as the file
// stores it, "TIME STREAM TEXT\n" (this is what a target's Logs returns). With Follow it goes
// on with new lines until ctx ends or the reader is closed, and then reports EOF; any other
// error of Read is the reader's error, wrapped with what.
//
// The reader is fed by a goroutine that it owns: Close ends it and waits for it.
func NewReader(ctx context.Context, path string, opts ReadOptions, wrap func(error) error) io.ReadCloser {
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	r := &lineReader{PipeReader: pr, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		var buf []byte
		err := Read(ctx, path, opts, func(l Line) error {
			buf = l.append(buf[:0])
			_, err := pw.Write(buf)
			return err
		})
		if opts.Follow && ctx.Err() != nil {
			err = nil // following ends with ctx: that is its EOF
		}
		if err != nil {
			err = wrap(err)
		}
		pw.CloseWithError(err)
	}()
	return r
}

// append renders l as the log file stores it.
func (l Line) append(b []byte) []byte {
	b = appendTime(b, l.Time)
	b = append(b, ' ')
	b = append(b, l.Stream...)
	b = append(b, ' ')
	b = append(b, l.Text...)
	return append(b, '\n')
}

// lineReader is the reader of NewReader and the owner of the goroutine that feeds it.
type lineReader struct {
	*io.PipeReader
	cancel context.CancelFunc
	done   chan struct{}
}

// Close stops the feeding goroutine and waits for it.
func (r *lineReader) Close() error {
	r.cancel()
	err := r.PipeReader.Close()
	<-r.done
	return err
}

// Scan calls fn with each line of r, a stream of stored lines such as NewReader's or a
// target's Logs, until r ends (nil) or fn or a line fails.
func Scan(r io.Reader, fn func(Line) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for sc.Scan() {
		l, err := ParseLine(sc.Bytes())
		if err != nil {
			return err
		}
		if err := fn(l); err != nil {
			return err
		}
	}
	return sc.Err()
}

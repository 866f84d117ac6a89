package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// errBuildOver stops the sending of a context whose build is over.
var errBuildOver = errors.New("build is over")

// build sends bc to the engine through a pipe, builds it with opts and passes each line of
// the engine's output to note. The error is the engine's, or why the context could not be
// sent.
func build(ctx context.Context, api client.APIClient, bc *buildContext, opts client.ImageBuildOptions, note func(string)) error {
	pr, pw := io.Pipe()
	sent := make(chan error, 1)
	go func() {
		err := bc.writeTar(ctx, pw)
		pw.CloseWithError(err)
		sent <- err
	}()

	err := run(ctx, api, pr, opts, note)
	// The engine may stop reading early (an error, a cancelled build): unblock the writer.
	pr.CloseWithError(errBuildOver)
	sendErr := <-sent
	if sendErr != nil && !errors.Is(sendErr, errBuildOver) && !errors.Is(sendErr, io.ErrClosedPipe) && ctx.Err() == nil {
		// The real cause: the engine only saw its context end early.
		return fmt.Errorf("send context: %w", sendErr)
	}
	return err
}

// run posts the build and reads its output.
func run(ctx context.Context, api client.APIClient, tar io.Reader, opts client.ImageBuildOptions, note func(string)) error {
	resp, err := api.ImageBuild(ctx, tar, opts)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	p := newProgress("build", note, time.Now)
	return readMessages(ctx, resp.Body, func(m message) {
		if m.Stream == "" {
			p.update(m) // pulling a base image
			return
		}
		for line := range strings.Lines(m.Stream) {
			if line = strings.TrimRight(line, " \r\n"); strings.TrimSpace(line) != "" {
				note("build: " + line)
			}
		}
	})
}

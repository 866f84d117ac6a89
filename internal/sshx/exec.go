package sshx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/ssh"
)

// Result is the outcome of a command run by Conn.Run.
type Result struct {
	Stdout, Stderr []byte
	// ExitCode is the command's exit status; -1 when a signal ended it.
	ExitCode int
	// Signal names the signal that ended the command ("KILL"); "" when it exited.
	Signal string
}

// Run runs cmd on the node (through the login shell, as ssh does) with stdin as its input
// (nil for none), and returns its output and exit status. A non-zero exit is not an error.
// Ending ctx closes the session and returns the cause of ctx (and no output).
//
// stdin is copied on a goroutine of its own; if stdin blocks after ctx ends, that goroutine
// lingers until it returns (as with os/exec).
func (c *Conn) Run(ctx context.Context, cmd string, stdin io.Reader) (Result, error) {
	s, err := c.newSession(ctx)
	if err != nil {
		return Result{}, c.errorf("run %q: %w", cmd, err)
	}
	defer s.Close()
	var stdout, stderr bytes.Buffer
	s.Stdout, s.Stderr = &stdout, &stderr
	in, err := s.StdinPipe()
	if err != nil {
		return Result{}, c.errorf("run %q: %w", cmd, err)
	}
	if err := s.Start(cmd); err != nil {
		return Result{}, c.errorf("run %q: %w", cmd, err)
	}
	if stdin == nil {
		in.Close()
	} else {
		go func() { // owner: stdin; it ends when stdin or the channel does
			io.Copy(in, stdin)
			in.Close()
		}()
	}
	waited, err := c.wait(s)
	if err != nil {
		return Result{}, c.errorf("run %q: %w", cmd, err)
	}
	select {
	case err = <-waited:
	case <-ctx.Done():
		// The wait ends when the peer closes the channel too, or the connection ends: a
		// dead peer must not hold the caller. The output is dropped with it.
		s.Signal(ssh.SIGKILL) // best effort: OpenSSH may ignore it, and closing is what counts
		s.Close()
		return Result{ExitCode: -1}, c.errorf("run %q: %w", cmd, context.Cause(ctx))
	}
	res := Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	res.ExitCode, res.Signal, err = exitStatus(err)
	if err != nil {
		return res, c.errorf("run %q: %w", cmd, err)
	}
	return res, nil
}

// wait waits for the session s on a goroutine of the connection, which ends with the
// connection at the latest.
func (c *Conn) wait(s *ssh.Session) (<-chan error, error) {
	waited := make(chan error, 1)
	if err := c.goroutine(func() { waited <- s.Wait() }); err != nil {
		s.Close()
		return nil, err
	}
	return waited, nil
}

// exitStatus translates the error of ssh.Session.Wait into an exit code and signal; it
// returns an error only when the command's end is unknown.
func exitStatus(err error) (code int, signal string, _ error) {
	var exit *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case err == nil:
		return 0, "", nil
	case errors.As(err, &exit):
		if exit.Signal() != "" {
			return -1, exit.Signal(), nil
		}
		return exit.ExitStatus(), "", nil
	case errors.As(err, &missing):
		return -1, "", fmt.Errorf("no exit status (connection lost?): %w", err)
	default:
		return -1, "", err
	}
}

// Session is a command started by Conn.Start, with pipes to it. Read Stdout and Stderr
// both (or neither): a full channel window stops the command.
type Session struct {
	Stdin  io.WriteCloser
	Stdout io.Reader
	Stderr io.Reader

	c      *Conn
	cmd    string
	s      *ssh.Session
	stop   func() bool // unhooks the closing on ctx's end
	ctx    context.Context
	waited <-chan error // the result of s.Wait
}

// Start starts cmd on the node with pipes to its input and output, for a long-running
// stream. ctx bounds the whole session, as with exec.CommandContext: ending it closes the
// session.
func (c *Conn) Start(ctx context.Context, cmd string) (*Session, error) {
	s, err := c.newSession(ctx)
	if err != nil {
		return nil, c.errorf("start %q: %w", cmd, err)
	}
	sess := &Session{c: c, cmd: cmd, s: s, ctx: ctx}
	if sess.Stdin, err = s.StdinPipe(); err == nil {
		if sess.Stdout, err = s.StdoutPipe(); err == nil {
			sess.Stderr, err = s.StderrPipe()
		}
	}
	if err == nil {
		err = s.Start(cmd)
	}
	if err == nil {
		sess.waited, err = c.wait(s)
	}
	if err != nil {
		s.Close()
		return nil, c.errorf("start %q: %w", cmd, err)
	}
	sess.stop = context.AfterFunc(ctx, func() { s.Close() })
	return sess, nil
}

// Wait waits for the command to end and returns its exit code (-1 for a signal); a
// non-zero exit is not an error. After ctx has ended, the error wraps its cause.
func (s *Session) Wait() (int, error) {
	defer s.stop()
	var err error
	select {
	case err = <-s.waited:
	case <-s.ctx.Done():
	}
	if s.ctx.Err() != nil {
		return -1, s.c.errorf("%q: %w", s.cmd, context.Cause(s.ctx))
	}
	code, _, err := exitStatus(err)
	if err != nil {
		return code, s.c.errorf("%q: %w", s.cmd, err)
	}
	return code, nil
}

// Close closes the session (the command gets a hangup); Wait then returns.
func (s *Session) Close() error {
	s.stop()
	err := s.s.Close()
	if err != nil && !errors.Is(err, io.EOF) {
		return s.c.errorf("close %q: %w", s.cmd, err)
	}
	return nil
}

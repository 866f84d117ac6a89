// Package logfile is a service's output log: the process target drains a service's
// stdout and stderr into a Writer, which stores each output line with a time stamp
// and a stream tag and rotates the file by size; Read gives the stored lines back
// (all, the last N, since a time, and following new ones across rotation) for
// `harness logs`, and Subscribe hands new lines to `log_line` health checks.
// ADR 0003 says why output flows through here.
//
// # On-disk format
//
// One stored line per output line, in DATA/logs/STACK/SERVICE.log:
//
//	2026-11-28T01:02:03.123456789Z stdout the text
//
// The time in UTC with exactly nine fractional digits (fixed width, so that lines
// sort and merge by time as strings), a space, the stream (stdout, stderr, or
// harness for harness's own notes such as "started pid 42"), a space, and the text
// without its newline. The text is the service's bytes as they are, UTF-8 or not;
// only the newline delimits. Text longer than 64 KiB is stored as several lines,
// cut before a UTF-8 character where possible. A last line without a newline (the
// pipe closed) is stored as a line.
//
// All the lines of one read from the pipe share one stamp, taken under the
// writer's lock, and a stamp never precedes the one before it (not across a
// restart of harness either: Open reads the last one), so each file and the chain
// of rotated files are sorted by time even when the wall clock steps back. Read
// relies on that to find Since by reading backwards.
//
// # Rotation
//
// When the next line would take PATH past Options.MaxBytes (and PATH is not empty),
// the writer removes PATH.Keep, renames PATH.(k) to PATH.(k+1) for k = Keep-1 … 1,
// then PATH to PATH.1, and creates a new PATH. A line is never split between two
// files; a line longer than MaxBytes gets a file of its own. No rename replaces a
// file: on ext4 that would force the renamed file to disk (auto_da_alloc), which
// made rotation the most expensive part of writing.
//
//	before:  PATH ─┐  PATH.1 ─┐  PATH.2 ─┐  PATH.3 ─┐
//	after:   (new)  └▶ PATH.1  └▶ PATH.2  └▶ PATH.3  └▶ removed      (Keep = 3)
//
// A file receives its last byte before it is renamed, and files only move up into
// a free number, so a reader that holds a file open knows it is complete as soon as
// anything newer exists, and finds that successor by the inode of what it holds
// (see snapshot in chain.go). A follower therefore neither loses nor repeats a line
// at a rotation, however many rotations happen between two of its polls, unless it
// falls so far behind that the files it has not read yet were dropped.
//
// # Concurrency
//
// A Writer's methods are safe for concurrent use. Drain for stdout and Drain for
// stderr run at the same time on one Writer; each read's lines are written with one
// write(2) under a mutex, so lines never interleave within a line, and nothing is
// fsynced. Drain blocks only on its reader and on the file; never on a subscriber:
// a subscriber has a buffer of 1024 lines and loses the lines that do not fit. Every
// Drain must return before Close. Subscribe starts no goroutine: the channel is
// closed by a context.AfterFunc when ctx ends, or by Close.
//
// Read runs in the caller's goroutine and starts none. Any number of readers may
// read a file while one Writer writes it; readers share nothing.
//
// # Follow latency
//
// A follower polls: at the end of what it has read it sleeps 50 ms, then reads
// again and compares the inode of PATH with the file it holds. A new line is
// therefore delivered within about 50 ms; an idle follower costs two system calls
// per poll and no CPU in between.
package logfile

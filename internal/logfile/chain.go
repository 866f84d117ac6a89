package logfile

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
)

// maxChain bounds the numbers a snapshot looks at, against a directory gone wrong.
const maxChain = 10000

// logFile is an open file of a log's chain (PATH.Keep … PATH.1, PATH) and what it
// was when it was opened. Holding the descriptor keeps the inode allocated, so
// comparing FileInfos with os.SameFile cannot be fooled by a reused inode number.
type logFile struct {
	f    *os.File
	info os.FileInfo
}

// openLog opens name; ok is false when it does not exist.
func openLog(name string) (lf logFile, ok bool, err error) {
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return logFile{}, false, nil
	}
	if err != nil {
		return logFile{}, false, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return logFile{}, false, err
	}
	return logFile{f: f, info: fi}, true, nil
}

func closeAll(files []logFile) {
	for _, lf := range files {
		lf.f.Close()
	}
}

// snapshot opens every file of the chain at path, oldest first, as it was at one
// moment, retrying while a rotation disturbs it. No files is not an error.
func snapshot(ctx context.Context, path string) ([]logFile, error) {
	for {
		files, stable, err := trySnapshot(path)
		if err != nil || stable {
			return files, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

// trySnapshot opens the chain, and reports whether no rotation could have misled it.
//
// The writer removes PATH.Keep, renames PATH.k to PATH.(k+1) from the highest k
// down, then PATH to PATH.1, then creates PATH. So files only ever move up by one
// into a free number (or are dropped from the top), their order by number is always
// their order by age, and between two renames of PATH every file moves at most
// once. trySnapshot holds the newest file (the anchor: PATH, or PATH.1 while PATH is
// missing), scans PATH.1, PATH.2, … upwards until two numbers in a row are missing,
// and then checks that the anchor is still where it was. If so, no file moved twice
// during the scan; a file that moved once moved ahead of the scan and was seen
// (maybe twice: duplicates are dropped), and the single gap, which moves down,
// never looks like two missing numbers. If not, it tries again.
func trySnapshot(path string) (files []logFile, stable bool, err error) {
	anchorName := path
	anchor, ok, err := openLog(path)
	if err == nil && !ok {
		anchorName = rotatedName(path, 1)
		anchor, ok, err = openLog(anchorName)
	}
	if err != nil {
		return nil, false, err
	}
	if !ok {
		anchorName = ""
	}

	var newest []logFile // newest first
	release := func() {
		closeAll(newest)
		if anchorName != "" {
			anchor.f.Close()
		}
	}
	misses := 0
	for k := 1; misses < 2 && k <= maxChain; k++ {
		lf, ok, err := openLog(rotatedName(path, k))
		if err != nil {
			release()
			return nil, false, err
		}
		if !ok {
			misses++
			continue
		}
		misses = 0
		if len(newest) > 0 && os.SameFile(newest[len(newest)-1].info, lf.info) {
			lf.f.Close() // seen one number lower, before it moved up
			continue
		}
		newest = append(newest, lf)
	}

	stable, err = anchorStill(path, anchorName, anchor)
	if err != nil || !stable {
		release()
		return nil, false, err
	}
	for i, j := 0, len(newest)-1; i < j; i, j = i+1, j-1 {
		newest[i], newest[j] = newest[j], newest[i]
	}
	switch anchorName {
	case path:
		newest = append(newest, anchor)
	case rotatedName(path, 1):
		anchor.f.Close() // the scan opened it too
	}
	return newest, true, nil
}

// anchorStill reports whether the chain's newest file is where it was when the
// snapshot began: PATH still the anchor; or PATH still missing and PATH.1 still the
// anchor; or, with no anchor, both still missing.
func anchorStill(path, anchorName string, anchor logFile) (bool, error) {
	head, err := statIf(path)
	if err != nil {
		return false, err
	}
	switch anchorName {
	case path:
		return head != nil && os.SameFile(head, anchor.info), nil
	case "":
		if head != nil {
			return false, nil
		}
		one, err := statIf(rotatedName(path, 1))
		return one == nil, err
	default:
		if head != nil {
			return false, nil
		}
		one, err := statIf(anchorName)
		return one != nil && os.SameFile(one, anchor.info), err
	}
}

// statIf is os.Stat with a missing file as nil.
func statIf(name string) (os.FileInfo, error) {
	fi, err := os.Stat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return fi, err
}

// scanChunk is how much a backScanner reads at a time.
const scanChunk = 64 << 10

// backScanner yields the complete lines of a file from the last to the first,
// reading backwards in chunks, so that the tail of a large file costs only the
// tail. A last line without a newline (being written) is not yielded.
type backScanner struct {
	f   *os.File
	pos int64  // file offset of buf[0]
	buf []byte // the bytes before the line yielded last; empty, or ends with '\n'
}

// newBackScanner scans the first size bytes of f.
func newBackScanner(f *os.File, size int64) (*backScanner, error) {
	s := &backScanner{f: f, pos: size}
	for s.pos > 0 {
		if err := s.fill(); err != nil {
			return nil, err
		}
		if i := bytes.LastIndexByte(s.buf, '\n'); i >= 0 {
			s.buf = s.buf[:i+1]
			return s, nil
		}
	}
	s.buf = s.buf[:0]
	return s, nil
}

// prev returns the line before the one it returned last, without its newline, and
// the offset where it starts; ok is false before the first line.
func (s *backScanner) prev() (line []byte, off int64, ok bool, err error) {
	for {
		if len(s.buf) == 0 {
			return nil, 0, false, nil
		}
		body := s.buf[:len(s.buf)-1]
		if i := bytes.LastIndexByte(body, '\n'); i >= 0 {
			s.buf = s.buf[:i+1]
			return body[i+1:], s.pos + int64(i+1), true, nil
		}
		if s.pos == 0 {
			s.buf = s.buf[:0]
			return body, 0, true, nil
		}
		if err := s.fill(); err != nil {
			return nil, 0, false, err
		}
	}
}

// fill prepends the chunk before buf.
func (s *backScanner) fill() error {
	n := min(int64(scanChunk), s.pos)
	nb := make([]byte, int(n)+len(s.buf))
	if _, err := s.f.ReadAt(nb[:n], s.pos-n); err != nil {
		return err
	}
	copy(nb[n:], s.buf)
	s.buf, s.pos = nb, s.pos-n
	return nil
}

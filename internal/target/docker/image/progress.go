package image

import (
	"fmt"
	"time"
)

// progressEvery is the least time between two progress lines of one layer.
const progressEvery = time.Second

// progress turns the status messages of a pull into note lines: "PREFIX: LAYER: Downloading
// 12.3/45.6 MB". A layer gets at most one line per progressEvery; a message about no layer
// ("Digest: …", "Status: …") always gets one.
type progress struct {
	prefix string
	note   func(string)
	now    func() time.Time
	last   map[string]time.Time // when each layer got its last line
}

// newProgress returns a progress that writes lines starting with prefix to note.
func newProgress(prefix string, note func(string), now func() time.Time) *progress {
	return &progress{prefix: prefix, note: note, now: now, last: map[string]time.Time{}}
}

// update reports m, unless its layer had a line less than progressEvery ago.
func (p *progress) update(m message) {
	if m.Status == "" {
		return
	}
	if m.ID == "" {
		p.note(p.prefix + ": " + m.Status)
		return
	}
	now := p.now()
	if last, ok := p.last[m.ID]; ok && now.Sub(last) < progressEvery {
		return
	}
	p.last[m.ID] = now
	line := p.prefix + ": " + m.ID + ": " + m.Status
	if pr := m.Progress; pr != nil && pr.Total > 0 && !pr.HideCounts {
		line += " " + amount(pr.Current, pr.Total)
	}
	p.note(line)
}

// amount formats current/total bytes in the decimal unit of total: "12.3/45.6 MB".
func amount(current, total int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	unit, scale := 0, 1.0
	for unit < len(units)-1 && float64(total)/scale >= 1000 {
		unit++
		scale *= 1000
	}
	if unit == 0 {
		return fmt.Sprintf("%d/%d B", current, total)
	}
	return fmt.Sprintf("%.1f/%.1f %s", float64(current)/scale, float64(total)/scale, units[unit])
}

package lambdahost

import (
	"bytes"
	"io"
	"sync"
)

// lockedWriter serialises writes from all environments' stdout/stderr so lines from
// concurrent environments do not interleave mid-line.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// lineWriter prefixes every complete line with prefix (like CloudWatch shows one log event
// per line) and holds back a trailing partial line until its newline arrives or Flush.
type lineWriter struct {
	prefix string
	out    io.Writer
	mu     sync.Mutex
	buf    []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.emit(l.buf[:i+1])
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

// Flush writes any partial last line (called when the process has exited).
func (l *lineWriter) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.emit(append(l.buf, '\n'))
		l.buf = nil
	}
}

func (l *lineWriter) emit(line []byte) {
	// Log output is best effort: a failing log sink must not fail the function.
	_, _ = l.out.Write(append([]byte(l.prefix), line...))
}

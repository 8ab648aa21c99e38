package api

import (
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// errInvalidUTF8 marks a request body that is not UTF-8. JSON text must be
// UTF-8 (RFC 8259), and encoding/json would replace each invalid byte with
// U+FFFD, so a task would silently run on altered data.
var errInvalidUTF8 = errors.New("invalid UTF-8")

// utf8Reader passes r through and fails at the first byte sequence that is
// not UTF-8. A rune split across two reads is checked once it is whole.
type utf8Reader struct {
	r       io.Reader
	carry   [utf8.UTFMax]byte // start of a rune cut off by the last read
	carried int
	offset  int64 // bytes checked so far
}

func (u *utf8Reader) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	if n == 0 {
		if err == io.EOF && u.carried > 0 {
			return 0, u.invalid()
		}
		return 0, err
	}

	buf := p[:n]
	start := 0
	if u.carried > 0 {
		// Complete the cut rune with the first bytes of this read.
		need := min(utf8.UTFMax-u.carried, n)
		var joined [2 * utf8.UTFMax]byte
		m := copy(joined[:], u.carry[:u.carried])
		m += copy(joined[m:], buf[:need])
		r, size := utf8.DecodeRune(joined[:m])
		if r == utf8.RuneError && size <= 1 && utf8.FullRune(joined[:m]) {
			return 0, u.invalid()
		}
		if !utf8.FullRune(joined[:m]) {
			u.carried = copy(u.carry[:], joined[:m])
			return n, err
		}
		start = size - u.carried
		u.offset += int64(size)
		u.carried = 0
	}

	for i := start; i < n; {
		c := buf[i]
		if c < utf8.RuneSelf {
			i++
			u.offset++
			continue
		}
		if !utf8.FullRune(buf[i:]) {
			u.carried = copy(u.carry[:], buf[i:])
			break
		}
		r, size := utf8.DecodeRune(buf[i:])
		if r == utf8.RuneError && size == 1 {
			return 0, u.invalid()
		}
		i += size
		u.offset += int64(size)
	}
	return n, err
}

func (u *utf8Reader) invalid() error {
	return fmt.Errorf("%w at byte offset %d", errInvalidUTF8, u.offset)
}

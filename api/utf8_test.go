package api

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestUTF8ReaderAcceptsValidText(t *testing.T) {
	text := `{"type":"echo","payload":"héllo wörld ✓ 𝄞"}`
	for _, r := range []io.Reader{
		&utf8Reader{r: strings.NewReader(text)},
		&utf8Reader{r: iotest.OneByteReader(strings.NewReader(text))},
	} {
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("ReadAll: %v", err)
		}
		if string(got) != text {
			t.Errorf("read %q, want %q", got, text)
		}
	}
}

func TestUTF8ReaderRejectsInvalidBytes(t *testing.T) {
	cases := map[string]string{
		"stray continuation": "a\x80b",
		"invalid lead":       "a\xff\xfeb",
		"cut at end":         "abc\xe2\x9c",
		"overlong":           "\xc0\xaf",
	}
	for name, text := range cases {
		for _, one := range []bool{false, true} {
			var src io.Reader = strings.NewReader(text)
			if one {
				src = iotest.OneByteReader(src)
			}
			_, err := io.ReadAll(&utf8Reader{r: src})
			if !errors.Is(err, errInvalidUTF8) {
				t.Errorf("%s (one byte a read: %v): err = %v, want errInvalidUTF8", name, one, err)
			}
		}
	}
}

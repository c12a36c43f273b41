package proxy

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
)

// TestReadAhead: a body of unknown length that ends within the limit gets its Content-Length;
// a longer one passes unchanged and still of unknown length; a body cut short stays cut short.
func TestReadAhead(t *testing.T) {
	body := func(r io.Reader) *http.Response {
		return &http.Response{StatusCode: 200, Header: http.Header{}, ContentLength: -1, Body: io.NopCloser(r)}
	}
	for _, n := range []int{0, 1, 3000, 8 << 10, 20000, 64 << 10} {
		data := bytes.Repeat([]byte("x"), n)
		// One byte at a time: the reads must add up.
		resp := body(iotest.OneByteReader(bytes.NewReader(data)))
		readAhead(resp, 64<<10)
		got, err := io.ReadAll(resp.Body)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: read back %d, %v", n, len(got), err)
		}
		wantLen := int64(n)
		if n == 64<<10 {
			wantLen = -1 // the limit reached before the end was seen
		}
		if resp.ContentLength != wantLen || (wantLen >= 0) != (resp.Header.Get("Content-Length") != "") {
			t.Errorf("%d bytes: ContentLength %d, header %q; want %d", n, resp.ContentLength, resp.Header.Get("Content-Length"), wantLen)
		}
	}
	long := strings.Repeat("y", 100<<10)
	resp := body(strings.NewReader(long))
	readAhead(resp, 64<<10)
	if got, err := io.ReadAll(resp.Body); err != nil || string(got) != long || resp.ContentLength != -1 {
		t.Fatalf("a long body: %d bytes, %v, ContentLength %d", len(got), err, resp.ContentLength)
	}
	cut := errors.New("connection reset")
	resp = body(io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(cut)))
	readAhead(resp, 64<<10)
	if got, err := io.ReadAll(resp.Body); !errors.Is(err, cut) || string(got) != "abc" || resp.ContentLength != -1 {
		t.Fatalf("a body cut short: %q, %v, ContentLength %d", got, err, resp.ContentLength)
	}
}

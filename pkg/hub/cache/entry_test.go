package cache

import (
	"bytes"
	"errors"
	"testing"
)

func TestEntryRoundTrip(t *testing.T) {
	for _, payload := range [][]byte{nil, []byte("{}"), []byte(`{"kind":"Service","metadata":{"name":"a"}}`), bytes.Repeat([]byte{0xff}, 4096)} {
		got, err := DecodeEntry(EncodeEntry(payload))
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("round trip of %d bytes: %v", len(payload), err)
		}
	}
}

func TestDecodeEntryDetectsEveryFlippedByte(t *testing.T) {
	enc := EncodeEntry([]byte(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"}}`))
	for i := range enc {
		bad := bytes.Clone(enc)
		bad[i] ^= 0x01
		if _, err := DecodeEntry(bad); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("flipping byte %d: got %v, want ErrCorrupt", i, err)
		}
	}
	for n := 0; n < len(enc); n++ {
		if _, err := DecodeEntry(enc[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncating to %d bytes: got %v, want ErrCorrupt", n, err)
		}
	}
}

// FuzzDecodeCacheEntry: decoding arbitrary bytes never panics, and whatever it accepts is
// exactly a payload whose encoding checks out again.
func FuzzDecodeCacheEntry(f *testing.F) {
	f.Add(EncodeEntry([]byte(`{"kind":"Pod"}`)))
	f.Add([]byte(entryMagic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		payload, err := DecodeEntry(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		again, err := DecodeEntry(EncodeEntry(payload))
		if err != nil || !bytes.Equal(again, payload) {
			t.Fatalf("accepted payload does not round-trip: %v", err)
		}
		if !bytes.HasSuffix(data, payload) {
			t.Fatal("payload is not the tail of the entry")
		}
	})
}

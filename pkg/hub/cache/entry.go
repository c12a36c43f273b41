package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// entryMagic starts every cache file; the version lets a later format be told apart.
const entryMagic = "YURTHUB-CACHE/1\n"

// headerLen is the magic, a hex SHA-256 of the payload and a newline.
const headerLen = len(entryMagic) + sha256.Size*2 + 1

// ErrCorrupt is returned for a cache entry whose header or checksum does not match.
var ErrCorrupt = errors.New("corrupt cache entry")

// EncodeEntry wraps a payload with the header and checksum that DecodeEntry checks.
func EncodeEntry(payload []byte) []byte {
	sum := sha256.Sum256(payload)
	out := make([]byte, 0, headerLen+len(payload))
	out = append(out, entryMagic...)
	out = hex.AppendEncode(out, sum[:])
	out = append(out, '\n')
	return append(out, payload...)
}

// DecodeEntry returns the payload of an encoded entry, or an error wrapping ErrCorrupt when
// the header is malformed or the payload does not match its checksum (a flipped bit, a
// truncated write).
func DecodeEntry(data []byte) ([]byte, error) {
	if len(data) < headerLen {
		return nil, fmt.Errorf("%w: %d bytes is shorter than the header", ErrCorrupt, len(data))
	}
	if !bytes.HasPrefix(data, []byte(entryMagic)) {
		return nil, fmt.Errorf("%w: bad magic", ErrCorrupt)
	}
	hexSum := data[len(entryMagic) : headerLen-1]
	if data[headerLen-1] != '\n' {
		return nil, fmt.Errorf("%w: malformed checksum line", ErrCorrupt)
	}
	var want [sha256.Size]byte
	if n, err := hex.Decode(want[:], hexSum); err != nil || n != sha256.Size {
		return nil, fmt.Errorf("%w: malformed checksum", ErrCorrupt)
	}
	payload := data[headerLen:]
	if sha256.Sum256(payload) != want {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	return payload, nil
}

package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
)

// signer signs and verifies the opaque blobs the server hands to clients
// (tickets, prepared statement handles, session cookies, bearer tokens) with
// HMAC-SHA256, so any node that shares the key can verify them and no client
// can forge or alter one.
type signer struct{ key []byte }

func newSigner(key []byte) (*signer, error) {
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
	}
	if len(key) < 16 {
		return nil, fmt.Errorf("ticket signing key must be at least 16 bytes, got %d", len(key))
	}
	return &signer{key: key}, nil
}

const blobVersion = 1

// seal returns version || json(v) || mac, where kind is bound into the mac so
// a blob of one kind cannot pass for another.
func (s *signer) seal(kind string, v any) ([]byte, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, 1+len(body)+sha256.Size)
	out = append(out, blobVersion)
	out = append(out, body...)
	return append(out, s.mac(kind, out)...), nil
}

// open verifies a sealed blob of the given kind and decodes it into v.
func (s *signer) open(kind string, blob []byte, v any) error {
	if len(blob) < 1+sha256.Size || blob[0] != blobVersion {
		return fmt.Errorf("%w: malformed %s", errBadTicket, kind)
	}
	body, sum := blob[:len(blob)-sha256.Size], blob[len(blob)-sha256.Size:]
	if !hmac.Equal(sum, s.mac(kind, body)) {
		return fmt.Errorf("%w: %s signature does not match (altered, or signed with another key)", errBadTicket, kind)
	}
	if err := json.Unmarshal(body[1:], v); err != nil {
		return fmt.Errorf("%w: %s: %v", errBadTicket, kind, err)
	}
	return nil
}

func (s *signer) mac(kind string, data []byte) []byte {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write(data)
	return h.Sum(nil)
}

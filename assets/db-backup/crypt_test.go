package main

import (
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func encrypt(t *testing.T, key Key, plain []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := Encrypt(&out, key)
	if err != nil {
		t.Fatal(err)
	}
	// Odd write sizes, so chunk boundaries fall inside writes.
	for len(plain) > 0 {
		n := min(len(plain), 7777)
		if _, err := w.Write(plain[:n]); err != nil {
			t.Fatal(err)
		}
		plain = plain[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func decrypt(key Key, sealed []byte) ([]byte, error) {
	r, err := Decrypt(bytes.NewReader(sealed), key)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func TestEncryptionRoundTrips(t *testing.T) {
	key := sha256.Sum256([]byte("k"))
	for _, size := range []int{0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 3*chunkSize + 5} {
		plain := bytes.Repeat([]byte("row,"), size/4+1)[:size]
		sealed := encrypt(t, key, plain)
		got, err := decrypt(key, sealed)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("size %d: err %v, got %d bytes", size, err, len(got))
		}
		if size > 16 && bytes.Contains(sealed, plain[:16]) {
			t.Fatalf("size %d: plaintext visible in the file", size)
		}
	}
}

func TestEncryptionRefusesWhatWasNotWritten(t *testing.T) {
	key := sha256.Sum256([]byte("k"))
	plain := bytes.Repeat([]byte("x"), 2*chunkSize+10)
	sealed := encrypt(t, key, plain)
	firstChunkEnd := len(magic) + saltSize + 4 + chunkSize + 16
	cases := map[string]struct {
		key    Key
		sealed []byte
		want   string
	}{
		"wrong key":          {sha256.Sum256([]byte("other")), sealed, "wrong key"},
		"one byte changed":   {key, flip(sealed, len(magic)+saltSize+4+100), "wrong key, or the file was changed"},
		"cut after a chunk":  {key, sealed[:firstChunkEnd], "truncated"},
		"cut inside a chunk": {key, sealed[:firstChunkEnd+100], "truncated"},
		"cut to the header":  {key, sealed[:len(magic)+saltSize], "truncated"},
		"not ours":           {key, []byte("-- MySQL dump\n"), "not an encrypted backup"},
		"data after the end": {key, append(append([]byte{}, sealed...), 0), "after its final chunk"},
		"chunks swapped":     {key, swapFirstTwoChunks(sealed), "wrong key, or the file was changed"},
	}
	for name, c := range cases {
		_, err := decrypt(c.key, c.sealed)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", name, err, c.want)
		}
	}
}

func flip(b []byte, i int) []byte {
	out := append([]byte{}, b...)
	out[i] ^= 1
	return out
}

func swapFirstTwoChunks(b []byte) []byte {
	head := len(magic) + saltSize
	c := 4 + chunkSize + 16
	out := append([]byte{}, b[:head]...)
	out = append(out, b[head+c:head+2*c]...)
	out = append(out, b[head:head+c]...)
	return append(out, b[head+2*c:]...)
}

func TestReadKey(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("too short\n"), 0o600)
	if _, err := ReadKey(short); err == nil || !strings.Contains(err.Error(), "at least 32 characters (got 9)") {
		t.Fatalf("short key: %v", err)
	}
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte(strings.Repeat("s", 40)+"\n"), 0o600)
	k, err := ReadKey(good)
	if err != nil || k != sha256.Sum256([]byte(strings.Repeat("s", 40))) {
		t.Fatalf("good key: %v", err)
	}
}

package main

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Backups are encrypted at rest with AES-256-GCM in chunks, so a file of any size streams through
// in constant memory. Layout: magic, a random salt, then chunks of [4-byte length][sealed bytes].
// Each file has its own key (HMAC-SHA256 of the user's key and the salt), each chunk a nonce of
// its index and a final flag: reordered, altered or truncated files fail to decrypt.

const (
	magic     = "DWSBAK1\n"
	saltSize  = 16
	chunkSize = 64 << 10
)

// Key is the user's key: the SHA-256 of the key file's content (any secret of 32 or more characters).
type Key [32]byte

// ReadKey reads a key file; surrounding whitespace (a trailing newline) is not part of the key.
func ReadKey(path string) (Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Key{}, err
	}
	secret := strings.TrimSpace(string(b))
	if len(secret) < 32 {
		return Key{}, fmt.Errorf("key file %s: the key must be at least 32 characters (got %d)", path, len(secret))
	}
	return sha256.Sum256([]byte(secret)), nil
}

func (k Key) aead(salt []byte) (cipher.AEAD, error) {
	mac := hmac.New(sha256.New, k[:])
	mac.Write(salt)
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func nonce(index uint64, final bool) []byte {
	n := make([]byte, 12)
	binary.BigEndian.PutUint64(n, index)
	if final {
		n[11] = 1
	}
	return n
}

type encryptWriter struct {
	out   io.Writer
	aead  cipher.AEAD
	buf   []byte
	index uint64
}

// Encrypt returns a writer that encrypts to out; Close writes the final chunk (it does not close out).
func Encrypt(out io.Writer, key Key) (io.WriteCloser, error) {
	salt := make([]byte, saltSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	aead, err := key.aead(salt)
	if err != nil {
		return nil, err
	}
	if _, err := out.Write(append([]byte(magic), salt...)); err != nil {
		return nil, err
	}
	return &encryptWriter{out: out, aead: aead, buf: make([]byte, 0, chunkSize)}, nil
}

func (w *encryptWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		// A full buffer is sealed only when more follows, so the last chunk is always the final one.
		if len(w.buf) == chunkSize {
			if err := w.seal(false); err != nil {
				return written, err
			}
		}
		n := copy(w.buf[len(w.buf):chunkSize], p)
		w.buf = w.buf[:len(w.buf)+n]
		p = p[n:]
		written += n
	}
	return written, nil
}

func (w *encryptWriter) seal(final bool) error {
	sealed := w.aead.Seal(nil, nonce(w.index, final), w.buf, nil)
	var length [4]byte
	binary.BigEndian.PutUint32(length[:], uint32(len(w.buf)))
	if _, err := w.out.Write(length[:]); err != nil {
		return err
	}
	if _, err := w.out.Write(sealed); err != nil {
		return err
	}
	w.index++
	w.buf = w.buf[:0]
	return nil
}

func (w *encryptWriter) Close() error { return w.seal(true) }

type decryptReader struct {
	in    *bufio.Reader
	aead  cipher.AEAD
	plain []byte
	index uint64
	done  bool
}

// ErrTruncated: the file ends before its final chunk.
var ErrTruncated = errors.New("encrypted backup is truncated (no final chunk)")

// Decrypt returns a reader of the plaintext; it fails on a wrong key or any change to the file.
func Decrypt(in io.Reader, key Key) (io.Reader, error) {
	r := bufio.NewReaderSize(in, chunkSize+64)
	head := make([]byte, len(magic)+saltSize)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, fmt.Errorf("not an encrypted backup: %w", err)
	}
	if string(head[:len(magic)]) != magic {
		return nil, errors.New("not an encrypted backup (bad magic)")
	}
	aead, err := key.aead(head[len(magic):])
	if err != nil {
		return nil, err
	}
	return &decryptReader{in: r, aead: aead}, nil
}

func (d *decryptReader) Read(p []byte) (int, error) {
	for len(d.plain) == 0 {
		if d.done {
			if _, err := d.in.ReadByte(); err != io.EOF {
				return 0, errors.New("encrypted backup has data after its final chunk")
			}
			return 0, io.EOF
		}
		if err := d.open(); err != nil {
			return 0, err
		}
	}
	n := copy(p, d.plain)
	d.plain = d.plain[n:]
	return n, nil
}

func (d *decryptReader) open() error {
	var length [4]byte
	if _, err := io.ReadFull(d.in, length[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return ErrTruncated
		}
		return err
	}
	size := binary.BigEndian.Uint32(length[:])
	if size > chunkSize {
		return errors.New("encrypted backup is damaged (chunk too large)")
	}
	sealed := make([]byte, int(size)+d.aead.Overhead())
	if _, err := io.ReadFull(d.in, sealed); err != nil {
		return ErrTruncated
	}
	// Try as a middle chunk, then as the final one: the flag is in the nonce, not in the clear.
	plain, err := d.aead.Open(nil, nonce(d.index, false), sealed, nil)
	if err != nil {
		plain, err = d.aead.Open(nil, nonce(d.index, true), sealed, nil)
		if err != nil {
			return errors.New("encrypted backup does not decrypt: wrong key, or the file was changed")
		}
		d.done = true
	}
	d.index++
	d.plain = plain
	return nil
}

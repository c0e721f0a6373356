package main

// C2SP tlog-cosignature v1 (Ed25519, signature type 0x04) and the parts of
// C2SP signed-note it needs, written from the specs with the standard
// library only: this file, verifycosig.go and vectors.go must not import
// golang.org/x/mod, so that the witness is checked by code that shares
// nothing with the Go reference it is otherwise compared against.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

const (
	sigTypeEd25519     = 0x01
	sigTypeCosignature = 0x04
	sigLinePrefix      = "\u2014 " // em dash, space
	cosigHeader        = "cosignature/v1\n"
	cosigSigLen        = 4 + 8 + ed25519.SignatureSize
	maxTimestamp       = 1<<63 - 1
)

var (
	errOtherName  = errors.New("signature line is from another key name")
	errOtherKeyID = errors.New("signature line has the key name but another key ID")
)

// vkey is a parsed signed-note verifier key: name+hex(keyID)+base64(type||key).
type vkey struct {
	name    string
	id      [4]byte
	sigType byte
	key     []byte
}

func (k *vkey) String() string {
	return fmt.Sprintf("%s+%s", k.name, hex.EncodeToString(k.id[:]))
}

// keyID is SHA-256(name || "\n" || sigType || key)[:4] (signed-note, and
// tlog-cosignature for type 0x04).
func keyID(name string, sigType byte, key []byte) [4]byte {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', sigType})
	h.Write(key)
	var id [4]byte
	copy(id[:], h.Sum(nil))
	return id
}

func validKeyName(name string) bool {
	if name == "" || strings.ContainsAny(name, "+") {
		return false
	}
	for _, r := range name {
		if r <= ' ' || r == 0x7f || r == '\u0085' || r == '\u00a0' || r == '\u1680' ||
			(r >= '\u2000' && r <= '\u200a') || r == '\u2028' || r == '\u2029' ||
			r == '\u202f' || r == '\u205f' || r == '\u3000' {
			return false
		}
	}
	return true
}

// parseVkey parses any vkey; for the Ed25519 types (0x01, 0x04) it also
// checks the key length and that the key ID is the one the specs define.
func parseVkey(s string) (*vkey, error) {
	parts := strings.SplitN(strings.TrimSpace(s), "+", 3) // base64 may hold "+", names may not
	if len(parts) != 3 {
		return nil, fmt.Errorf("vkey %q: want name+keyid+key", s)
	}
	k := &vkey{name: parts[0]}
	if !validKeyName(k.name) {
		return nil, fmt.Errorf("vkey %q: invalid key name", s)
	}
	if len(parts[1]) != 8 || strings.ToLower(parts[1]) != parts[1] {
		return nil, fmt.Errorf("vkey %q: key ID is not 8 lowercase hex digits", s)
	}
	if _, err := hex.Decode(k.id[:], []byte(parts[1])); err != nil {
		return nil, fmt.Errorf("vkey %q: key ID: %v", s, err)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(parts[2])
	if err != nil || len(raw) < 2 {
		return nil, fmt.Errorf("vkey %q: key is not base64(type || key)", s)
	}
	k.sigType, k.key = raw[0], raw[1:]
	if k.sigType == sigTypeEd25519 || k.sigType == sigTypeCosignature {
		if len(k.key) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("vkey %q: Ed25519 key of %d bytes", s, len(k.key))
		}
		if want := keyID(k.name, k.sigType, k.key); want != k.id {
			return nil, fmt.Errorf("vkey %q: key ID %x, want SHA-256(name||\"\\n\"||0x%02x||key)[:4] = %x",
				s, k.id, k.sigType, want)
		}
	}
	return k, nil
}

// cosigKey is a cosignature/v1 verifier: a name and an Ed25519 public key,
// with the key ID computed over type byte 0x04.
type cosigKey struct {
	name string
	id   [4]byte
	pub  ed25519.PublicKey
}

func newCosigKey(name string, pub []byte) (*cosigKey, error) {
	if !validKeyName(name) || len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("cosigner %q: invalid name or %d-byte key", name, len(pub))
	}
	return &cosigKey{name: name, id: keyID(name, sigTypeCosignature, pub), pub: ed25519.PublicKey(pub)}, nil
}

// parseCosigVkey accepts only type 0x04 vkeys: a witness announces its
// cosignature key in that form.
func parseCosigVkey(s string) (*cosigKey, error) {
	k, err := parseVkey(s)
	if err != nil {
		return nil, err
	}
	if k.sigType != sigTypeCosignature {
		return nil, fmt.Errorf("vkey %q: signature type 0x%02x, want 0x04 (cosignature/v1)", s, k.sigType)
	}
	return &cosigKey{name: k.name, id: k.id, pub: ed25519.PublicKey(k.key)}, nil
}

func (k *cosigKey) String() string {
	return fmt.Sprintf("%s+%s", k.name, hex.EncodeToString(k.id[:]))
}

// cosignedMessage is what a cosignature/v1 signs: the header line, the
// timestamp line, then the whole checkpoint note text.
func cosignedMessage(ts uint64, body []byte) []byte {
	var b bytes.Buffer
	b.WriteString(cosigHeader)
	b.WriteString("time " + strconv.FormatUint(ts, 10) + "\n")
	b.Write(body)
	return b.Bytes()
}

// sigLine is one parsed note signature line (without its newline).
type sigLine struct {
	name string
	id   [4]byte
	sig  []byte // after the key ID
	text string
}

func parseSigLine(line string) (*sigLine, error) {
	if !strings.HasPrefix(line, sigLinePrefix) {
		return nil, fmt.Errorf("signature line %q does not start with an em dash and a space", line)
	}
	name, b64, ok := strings.Cut(strings.TrimPrefix(line, sigLinePrefix), " ")
	if !ok || !validKeyName(name) || strings.Contains(b64, " ") {
		return nil, fmt.Errorf("signature line %q: want \"\u2014 <name> <base64>\"", line)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil || len(raw) < 5 {
		return nil, fmt.Errorf("signature line %q: signature is not base64 of key ID || signature", line)
	}
	s := &sigLine{name: name, sig: raw[4:], text: line}
	copy(s.id[:], raw)
	return s, nil
}

// cosigTimestamp reads the timestamp of a timestamped_signature.
func cosigTimestamp(sig []byte) (uint64, error) {
	if len(sig) != 8+ed25519.SignatureSize {
		return 0, fmt.Errorf("cosignature of %d bytes after the key ID, want 72", len(sig))
	}
	ts := binary.BigEndian.Uint64(sig)
	if ts > maxTimestamp {
		return 0, fmt.Errorf("timestamp %d exceeds 2^63-1", ts)
	}
	return ts, nil
}

// verifyCosigLine checks one signature line against a cosigner and the
// checkpoint note text it should cover. It returns errOtherName or
// errOtherKeyID (wrapped) for lines that are not from this key, which a
// client ignores; any other error means the line claims to be from this key
// and fails.
func verifyCosigLine(k *cosigKey, body []byte, line string) (uint64, error) {
	s, err := parseSigLine(line)
	if err != nil {
		return 0, err
	}
	if s.name != k.name {
		return 0, fmt.Errorf("%w: %q", errOtherName, s.name)
	}
	if s.id != k.id {
		return 0, fmt.Errorf("%w: %x, want %x", errOtherKeyID, s.id, k.id)
	}
	ts, err := cosigTimestamp(s.sig)
	if err != nil {
		return 0, err
	}
	if !ed25519.Verify(k.pub, cosignedMessage(ts, body), s.sig[8:]) {
		return ts, fmt.Errorf("Ed25519 signature of %s does not verify over \"cosignature/v1\\ntime %d\\n\" + the checkpoint", k, ts)
	}
	return ts, nil
}

// splitNote separates a signed note into its text (with the final newline)
// and its signature lines: the text ends at the last blank line.
func splitNote(note []byte) (body []byte, lines []string, err error) {
	if len(note) == 0 || note[len(note)-1] != '\n' {
		return nil, nil, errors.New("note does not end in a newline")
	}
	i := bytes.LastIndex(note, []byte("\n\n"))
	if i < 0 {
		return nil, nil, errors.New("note has no blank line before its signatures")
	}
	body = note[:i+1]
	sigs := string(note[i+2 : len(note)-1])
	if sigs == "" {
		return nil, nil, errors.New("note has no signature lines")
	}
	return body, strings.Split(sigs, "\n"), nil
}

// checkpointFromRequest returns the checkpoint note of a tlog-witness
// add-checkpoint body: everything after the first blank line.
func checkpointFromRequest(req []byte) ([]byte, error) {
	if !bytes.HasPrefix(req, []byte("old ")) {
		return nil, errors.New("request body does not start with an \"old\" line")
	}
	i := bytes.Index(req, []byte("\n\n"))
	if i < 0 {
		return nil, errors.New("request body has no blank line before the checkpoint")
	}
	return req[i+2:], nil
}

// checkpointSummary names a checkpoint by its first two lines, for output.
func checkpointSummary(body []byte) string {
	lines := strings.SplitN(string(body), "\n", 3)
	if len(lines) < 3 {
		return fmt.Sprintf("%q", body)
	}
	return fmt.Sprintf("%q size %s", lines[0], lines[1])
}

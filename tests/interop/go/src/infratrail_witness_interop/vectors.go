package main

// verify-vectors: runs the standard-library cosignature/v1 verifier of
// cosig.go over tests/testdata/cosignature_vectors.json (real and spec
// cosignatures, sunlight's deterministic test keys), and over tampered
// copies of every real cosignature, so that verify-cosig is known to be
// right before it is pointed at a witness.

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

type cosigVector struct {
	ID               string `json:"id"`
	CosignerName     string `json:"cosigner_name"`
	CosignerVkey     string `json:"cosigner_vkey"`
	CosignerVkeyType int    `json:"cosigner_vkey_sig_type"`
	PublicKeyHex     string `json:"cosigner_public_key_hex"`
	CosigKeyID       string `json:"cosignature_key_id"`
	Timestamp        uint64 `json:"timestamp"`
	CheckpointBody   string `json:"checkpoint_body"`
	SignatureLine    string `json:"signature_line"`
	SignatureB64     string `json:"signature_b64"`
	Ed25519SigHex    string `json:"ed25519_signature_hex"`
	SignedMessage    string `json:"signed_message"`
	Note             string `json:"note"`
	Verified         bool   `json:"verified"`
	PrivateSeedHex   string `json:"private_seed_hex"`
}

type specExample struct {
	ID              string `json:"id"`
	Timestamp       uint64 `json:"timestamp"`
	CheckpointBody  string `json:"checkpoint_body"`
	SignedMessage   string `json:"signed_message"`
	SignatureLine   string `json:"signature_line"`
	KeyID           string `json:"key_id"`
	SignatureLength int    `json:"signature_length"`
}

type timestampVector struct {
	ID                string `json:"id"`
	SignatureB64      string `json:"signature_b64"`
	ExpectedTimestamp uint64 `json:"expected_timestamp"`
	ExpectError       bool   `json:"expect_error"`
}

type negativeVector struct {
	ID           string   `json:"id"`
	Note         string   `json:"note"`
	VerifierKeys []string `json:"verifier_keys"`
	Reason       string   `json:"reason"`
}

type vectorFile struct {
	Cosignatures    []cosigVector     `json:"cosignatures"`
	SpecExamples    []specExample     `json:"spec_examples"`
	TimestampParse  []timestampVector `json:"timestamp_parse_vectors"`
	NegativeVectors []negativeVector  `json:"negative_vectors"`
}

// vectorRun counts checks; each failure is printed with the vector's id.
type vectorRun struct{ checks, failures int }

func (r *vectorRun) expect(id string, ok bool, format string, args ...interface{}) {
	r.checks++
	if !ok {
		r.failures++
		fmt.Printf("FAIL %s: %s\n", id, fmt.Sprintf(format, args...))
	}
}

// openNote is a minimal signed-note verifier over Ed25519 (0x01) and
// cosignature/v1 (0x04) keys: lines from unknown (name, key ID) pairs are
// ignored, a known key's line must verify, and at least one must.
func openNote(note []byte, keys []*vkey) (int, error) {
	body, lines, err := splitNote(note)
	if err != nil {
		return 0, err
	}
	verified := 0
	for _, line := range lines {
		s, err := parseSigLine(line)
		if err != nil {
			return 0, err
		}
		for _, k := range keys {
			if k.name != s.name || k.id != s.id {
				continue
			}
			switch k.sigType {
			case sigTypeEd25519:
				if !ed25519.Verify(ed25519.PublicKey(k.key), body, s.sig) {
					return 0, fmt.Errorf("invalid Ed25519 signature from %s", k)
				}
			case sigTypeCosignature:
				ck := &cosigKey{name: k.name, id: k.id, pub: ed25519.PublicKey(k.key)}
				if _, err := verifyCosigLine(ck, body, line); err != nil {
					return 0, err
				}
			default:
				return 0, fmt.Errorf("key %s: signature type 0x%02x not supported here", k, k.sigType)
			}
			verified++
		}
	}
	if verified == 0 {
		return 0, errors.New("no signature from a known key")
	}
	return verified, nil
}

// tamperLine flips the lowest bit of byte i of a signature line's decoded
// signature (key ID included) and re-encodes it.
func tamperLine(line string, i int) string {
	s, err := parseSigLine(line)
	if err != nil {
		return line
	}
	raw := append(append([]byte{}, s.id[:]...), s.sig...)
	raw[i] ^= 1
	return sigLinePrefix + s.name + " " + base64.StdEncoding.EncodeToString(raw)
}

func checkCosignature(r *vectorRun, v *cosigVector) {
	id := v.ID
	pub, err := hex.DecodeString(v.PublicKeyHex)
	r.expect(id, err == nil && len(pub) == ed25519.PublicKeySize, "public key hex %q", v.PublicKeyHex)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return
	}
	pk, err := parseVkey(v.CosignerVkey)
	r.expect(id, err == nil, "vkey: %v", err)
	if err == nil {
		r.expect(id, pk.name == v.CosignerName && int(pk.sigType) == v.CosignerVkeyType && bytes.Equal(pk.key, pub),
			"vkey %s: name %q type 0x%02x key %x, want %q 0x%02x %x",
			v.CosignerVkey, pk.name, pk.sigType, pk.key, v.CosignerName, v.CosignerVkeyType, pub)
	}
	// A type 0x01 vkey names the key; its cosignature/v1 key ID is
	// recomputed over type byte 0x04 (tlog-cosignature).
	k, err := newCosigKey(v.CosignerName, pub)
	if err != nil {
		r.expect(id, false, "%v", err)
		return
	}
	r.expect(id, hex.EncodeToString(k.id[:]) == v.CosigKeyID, "cosignature key ID %x, want %s", k.id, v.CosigKeyID)
	if v.CosignerVkeyType == sigTypeCosignature {
		ck, err := parseCosigVkey(v.CosignerVkey)
		r.expect(id, err == nil && ck.id == k.id, "type 0x04 vkey: %v", err)
	} else {
		_, err := parseCosigVkey(v.CosignerVkey)
		r.expect(id, err != nil, "a type 0x%02x vkey was accepted as a cosignature/v1 key", v.CosignerVkeyType)
	}
	r.expect(id, v.SignatureLine == sigLinePrefix+v.CosignerName+" "+v.SignatureB64,
		"signature_line is not \"\u2014 <name> <signature_b64>\"")
	msg := cosignedMessage(v.Timestamp, []byte(v.CheckpointBody))
	r.expect(id, string(msg) == v.SignedMessage, "signed message %q, want %q", msg, v.SignedMessage)

	body := []byte(v.CheckpointBody)
	ts, err := verifyCosigLine(k, body, v.SignatureLine)
	r.expect(id, err == nil && ts == v.Timestamp, "verify: time %d, err %v; want time %d", ts, err, v.Timestamp)
	if s, err := parseSigLine(v.SignatureLine); err == nil && len(s.sig) == 72 {
		r.expect(id, hex.EncodeToString(s.sig[8:]) == v.Ed25519SigHex, "Ed25519 signature bytes differ")
	}

	// The whole note, as a client sees it.
	nbody, lines, err := splitNote([]byte(v.Note))
	r.expect(id, err == nil && string(nbody) == v.CheckpointBody, "note text %q, err %v", nbody, err)
	found := false
	for _, l := range lines {
		found = found || l == v.SignatureLine
	}
	r.expect(id, found, "note does not carry signature_line")
	n, err := openNote([]byte(v.Note), []*vkey{{name: k.name, id: k.id, sigType: sigTypeCosignature, key: pub}})
	r.expect(id, err == nil && n == 1, "open note with the cosigner key: %d verified, %v", n, err)

	// Sunlight's test keys are deterministic and so is Ed25519: signing
	// again must give the very same bytes.
	if v.PrivateSeedHex != "" {
		seed, err := hex.DecodeString(v.PrivateSeedHex)
		if err == nil && len(seed) == ed25519.SeedSize {
			priv := ed25519.NewKeyFromSeed(seed)
			r.expect(id, bytes.Equal(priv.Public().(ed25519.PublicKey), pub), "seed does not give the public key")
			r.expect(id, hex.EncodeToString(ed25519.Sign(priv, msg)) == v.Ed25519SigHex,
				"re-signing the message with the seed gives different bytes")
		} else {
			r.expect(id, false, "private_seed_hex %q", v.PrivateSeedHex)
		}
	}

	// Tampered copies: each must fail as a line from this key (not be
	// skipped as someone else's), except a changed key ID, which a
	// verifier must treat as an unknown key.
	for _, t := range []struct {
		what string
		byte int
	}{{"timestamp", 11}, {"timestamp high byte", 4}, {"signature", 12}, {"signature end", 75}} {
		_, err := verifyCosigLine(k, body, tamperLine(v.SignatureLine, t.byte))
		r.expect(id, err != nil && !errors.Is(err, errOtherKeyID) && !errors.Is(err, errOtherName),
			"%s changed: got %v, want a failed signature", t.what, err)
	}
	_, err = verifyCosigLine(k, body, tamperLine(v.SignatureLine, 0))
	r.expect(id, errors.Is(err, errOtherKeyID), "key ID changed: got %v, want another key ID", err)
	other := bytes.Replace(body, []byte("\n"), []byte("\nx"), 1)
	_, err = verifyCosigLine(k, other, v.SignatureLine)
	r.expect(id, err != nil && !errors.Is(err, errOtherKeyID), "checkpoint changed: got %v, want a failed signature", err)
	_, err = verifyCosigLine(k, body, strings.Replace(v.SignatureLine, " "+v.CosignerName+" ", " x"+v.CosignerName+" ", 1))
	r.expect(id, errors.Is(err, errOtherName), "key name changed: got %v, want another key name", err)
	if ts := v.Timestamp; ts > 0 {
		msg := cosignedMessage(ts+1, body)
		r.expect(id, !ed25519.Verify(k.pub, msg, mustSig(v.Ed25519SigHex)), "signature verifies over time+1")
	}
}

func mustSig(h string) []byte {
	b, _ := hex.DecodeString(h)
	return b
}

// verifyVectors implements `verify-vectors FILE`.
func verifyVectors(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "verify-vectors: %v\n", err)
		return exitUsage
	}
	var f vectorFile
	if err := json.Unmarshal(data, &f); err != nil {
		fmt.Fprintf(os.Stderr, "verify-vectors: %s: %v\n", path, err)
		return exitUsage
	}
	r := &vectorRun{}
	real := 0
	for i := range f.Cosignatures {
		v := &f.Cosignatures[i]
		r.expect(v.ID, v.Verified, "vector is not marked verified")
		before := r.failures
		checkCosignature(r, v)
		if r.failures == before {
			fmt.Printf("ok   %s: %s over %s, time %d\n", v.ID, v.CosignerName, checkpointSummary([]byte(v.CheckpointBody)), v.Timestamp)
		}
		if v.PrivateSeedHex == "" {
			real++
		}
	}
	for _, e := range f.SpecExamples {
		if e.SignedMessage != "" {
			msg := cosignedMessage(e.Timestamp, []byte(e.CheckpointBody))
			r.expect(e.ID, string(msg) == e.SignedMessage, "signed message %q, want %q", msg, e.SignedMessage)
		}
		if e.SignatureLine != "" {
			s, err := parseSigLine(e.SignatureLine)
			r.expect(e.ID, err == nil, "parse: %v", err)
			if err == nil {
				ts, err := cosigTimestamp(s.sig)
				r.expect(e.ID, err == nil && ts == e.Timestamp && hex.EncodeToString(s.id[:]) == e.KeyID &&
					len(s.sig)-8 == e.SignatureLength,
					"key ID %x time %d sig %d bytes (%v), want %s %d %d", s.id, ts, len(s.sig)-8, err,
					e.KeyID, e.Timestamp, e.SignatureLength)
			}
		}
		fmt.Printf("ok   spec example %s\n", e.ID)
	}
	for _, t := range f.TimestampParse {
		raw, err := base64.StdEncoding.Strict().DecodeString(t.SignatureB64)
		var ts uint64
		if err == nil && len(raw) < 4 {
			err = errors.New("shorter than a key ID")
		}
		if err == nil {
			ts, err = cosigTimestamp(raw[4:])
		}
		if t.ExpectError {
			r.expect(t.ID, err != nil, "parsed timestamp %d, want an error", ts)
		} else {
			r.expect(t.ID, err == nil && ts == t.ExpectedTimestamp, "timestamp %d (%v), want %d", ts, err, t.ExpectedTimestamp)
		}
	}
	for _, n := range f.NegativeVectors {
		var keys []*vkey
		for _, s := range n.VerifierKeys {
			k, err := parseVkey(s)
			r.expect(n.ID, err == nil, "verifier key %q: %v", s, err)
			if err == nil {
				keys = append(keys, k)
			}
		}
		_, err := openNote([]byte(n.Note), keys)
		r.expect(n.ID, err != nil, "note accepted, want rejection (%s)", n.Reason)
		if err != nil {
			fmt.Printf("ok   negative %s rejected: %v\n", n.ID, err)
		}
	}
	if len(f.Cosignatures) == 0 || real == 0 {
		r.expect(path, false, "no cosignature vectors (or none from a real witness)")
	}
	fmt.Printf("verify-vectors: %d cosignatures (%d real), %d spec examples, %d timestamp and %d negative vectors; %d checks, %d mismatches\n",
		len(f.Cosignatures), real, len(f.SpecExamples), len(f.TimestampParse), len(f.NegativeVectors), r.checks, r.failures)
	if r.failures != 0 {
		return exitMismatch
	}
	return exitOK
}

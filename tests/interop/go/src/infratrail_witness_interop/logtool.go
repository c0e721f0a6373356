package main

// The log side of the witness interop test, written with Go's reference
// golang.org/x/mod/sumdb/note and sumdb/tlog: log keys, signed checkpoints
// and RFC 6962 consistency proofs, assembled into tlog-witness
// add-checkpoint bodies.

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// tlog-witness: a client MUST NOT send more than 63 proof lines.
const maxProofLines = 63

// memTree holds every stored hash of a tree in tlog's order; it is a
// tlog.HashReader.
type memTree struct {
	n      int64
	hashes []tlog.Hash
}

func (t *memTree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(t.hashes)) {
			return nil, fmt.Errorf("stored hash %d out of range (%d stored)", x, len(t.hashes))
		}
		out[i] = t.hashes[x]
	}
	return out, nil
}

func (t *memTree) appendLeafHash(h tlog.Hash) error {
	hs, err := tlog.StoredHashesForRecordHash(t.n, h, t)
	if err != nil {
		return err
	}
	t.hashes = append(t.hashes, hs...)
	t.n++
	return nil
}

// root is the RFC 6962 root; x/mod's TreeHash(0) is all zeros, the RFC's
// empty-tree hash is SHA-256 of the empty string.
func (t *memTree) root(n int64) (tlog.Hash, error) {
	if n == 0 {
		return tlog.Hash(sha256.Sum256(nil)), nil
	}
	return tlog.TreeHash(n, t)
}

// proof is the consistency proof from old to n, none when old is 0 or n.
func (t *memTree) proof(old, n int64) (tlog.TreeProof, error) {
	if old <= 0 || old >= n {
		return nil, nil
	}
	p, err := tlog.ProveTree(n, old, t)
	if err != nil {
		return nil, err
	}
	// Check what we send with x/mod's own verifier, so a refusal by the
	// witness cannot be a bug of this tool.
	oldRoot, err1 := t.root(old)
	newRoot, err2 := t.root(n)
	if err1 != nil || err2 != nil {
		return nil, errors.New("tree roots unavailable")
	}
	if err := tlog.CheckTree(p, n, newRoot, old, oldRoot); err != nil {
		return nil, fmt.Errorf("x/mod rejects its own proof %d -> %d: %v", old, n, err)
	}
	if len(p) > maxProofLines {
		return nil, fmt.Errorf("proof %d -> %d has %d hashes", old, n, len(p))
	}
	return p, nil
}

// leaf is the i-th entry of the test log.
func leaf(i int64) []byte { return []byte(fmt.Sprintf("leaf %d\n", i)) }

func testTree(n int64) (*memTree, error) {
	t := &memTree{}
	for i := int64(0); i < n; i++ {
		if err := t.appendLeafHash(tlog.RecordHash(leaf(i))); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// requestBody is a tlog-witness add-checkpoint body.
func requestBody(old int64, proof []tlog.Hash, checkpoint []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", old)
	for _, h := range proof {
		fmt.Fprintf(&b, "%s\n", base64.StdEncoding.EncodeToString(h[:]))
	}
	b.WriteString("\n")
	b.Write(checkpoint)
	return b.Bytes()
}

// newLog implements `newlog DIR NAME`.
func newLog(dir, name string) error {
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "log.skey"), []byte(skey+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "log.vkey"), []byte(vkey+"\n"), 0o644); err != nil {
		return err
	}
	// The optional fields are there so the witness's parser sees them; the
	// origin is spelled out although it equals the key name.
	list := fmt.Sprintf("logs/v0\n# written by infratrail_witness_interop newlog\n\nvkey %s\norigin %s\nqpd 86400\ncontact interop test <nobody@example.org>\n",
		vkey, name)
	if err := os.WriteFile(filepath.Join(dir, "logs.txt"), []byte(list), 0o644); err != nil {
		return err
	}
	fmt.Println(vkey)
	return nil
}

func readSigner(dir string) (note.Signer, error) {
	skey, err := os.ReadFile(filepath.Join(dir, "log.skey"))
	if err != nil {
		return nil, err
	}
	return note.NewSigner(strings.TrimSpace(string(skey)))
}

// makeBody implements `body DIR OLD NEW [--bad-proof|--wrong-root|--junk-proof|--bad-sig]`.
func makeBody(args []string) int {
	if len(args) < 3 {
		return usage()
	}
	old, err1 := strconv.ParseInt(args[1], 10, 64)
	n, err2 := strconv.ParseInt(args[2], 10, 64)
	if err1 != nil || err2 != nil || old < 0 || n < 0 {
		fmt.Fprintln(os.Stderr, "body: OLD and NEW must be non-negative integers")
		return exitUsage
	}
	flags := map[string]bool{}
	for _, f := range args[3:] {
		switch f {
		case "--bad-proof", "--wrong-root", "--junk-proof", "--bad-sig":
			flags[f] = true
		default:
			fmt.Fprintf(os.Stderr, "body: unknown option %q\n", f)
			return exitUsage
		}
	}
	signer, err := readSigner(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "body: %v\n", err)
		return exitUsage
	}
	size := n
	if old > size {
		size = old
	}
	t, err := testTree(size)
	if err != nil {
		fmt.Fprintf(os.Stderr, "body: %v\n", err)
		return exitUsage
	}
	root, err := t.root(n)
	if err == nil && flags["--wrong-root"] {
		root = tlog.RecordHash([]byte(fmt.Sprintf("not the root of tree %d\n", n)))
	}
	var proof tlog.TreeProof
	if err == nil {
		proof, err = t.proof(old, n)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "body: %v\n", err)
		return exitUsage
	}
	if flags["--bad-proof"] {
		if len(proof) == 0 {
			fmt.Fprintf(os.Stderr, "body: --bad-proof: no proof from %d to %d\n", old, n)
			return exitUsage
		}
		proof[0][0] ^= 1
	}
	if flags["--junk-proof"] {
		proof = append(proof, tlog.RecordHash([]byte("not a proof hash")))
	}
	text := fmt.Sprintf("%s\n%d\n%s\n", signer.Name(), n, base64.StdEncoding.EncodeToString(root[:]))
	cp, err := note.Sign(&note.Note{Text: text}, signer)
	if err != nil {
		fmt.Fprintf(os.Stderr, "body: note.Sign: %v\n", err)
		return exitUsage
	}
	if flags["--bad-sig"] {
		cp = corruptLastSignature(cp)
	}
	os.Stdout.Write(requestBody(old, proof, cp))
	return exitOK
}

// corruptLastSignature flips a bit in the Ed25519 signature (not the key ID)
// of a note's last signature line, keeping the line well-formed.
func corruptLastSignature(cp []byte) []byte {
	lines := strings.Split(strings.TrimSuffix(string(cp), "\n"), "\n")
	last := lines[len(lines)-1]
	i := strings.LastIndex(last, " ")
	raw, err := base64.StdEncoding.DecodeString(last[i+1:])
	if err != nil || len(raw) < 10 {
		return cp
	}
	raw[len(raw)-1] ^= 1
	lines[len(lines)-1] = last[:i+1] + base64.StdEncoding.EncodeToString(raw)
	return []byte(strings.Join(lines, "\n") + "\n")
}

// parseCheckpointText reads origin, size and root from a checkpoint note.
func parseCheckpointText(text string) (string, int64, tlog.Hash, error) {
	lines := strings.SplitN(text, "\n", 4)
	if len(lines) < 4 {
		return "", 0, tlog.Hash{}, errors.New("checkpoint has fewer than three lines")
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || n < 0 {
		return "", 0, tlog.Hash{}, fmt.Errorf("checkpoint size %q", lines[1])
	}
	root, err := tlog.ParseHash(lines[2])
	if err != nil {
		return "", 0, tlog.Hash{}, fmt.Errorf("checkpoint root %q: %v", lines[2], err)
	}
	return lines[0], n, root, nil
}

// treeBody implements `tree-body LEAF_HASHES OLD CHECKPOINT`: the body for a
// real log's checkpoint with the consistency proof from OLD, computed from
// the log's leaf hashes (hex, one a line). The checkpoint's root must be the
// root of its size over those hashes.
func treeBody(args []string) int {
	if len(args) != 3 {
		return usage()
	}
	old, err := strconv.ParseInt(args[1], 10, 64)
	if err != nil || old < 0 {
		fmt.Fprintln(os.Stderr, "tree-body: OLD must be a non-negative integer")
		return exitUsage
	}
	cp, err := os.ReadFile(args[2])
	if err != nil {
		fmt.Fprintf(os.Stderr, "tree-body: %v\n", err)
		return exitUsage
	}
	_, n, root, err := parseCheckpointText(string(cp))
	if err != nil {
		fmt.Fprintf(os.Stderr, "tree-body: %s: %v\n", args[2], err)
		return exitUsage
	}
	f, err := os.Open(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "tree-body: %v\n", err)
		return exitUsage
	}
	defer f.Close()
	t := &memTree{}
	sc := bufio.NewScanner(f)
	for sc.Scan() && t.n < n {
		b, err := hex.DecodeString(strings.TrimSpace(sc.Text()))
		if err != nil || len(b) != tlog.HashSize {
			fmt.Fprintf(os.Stderr, "tree-body: %s line %d: not a 32-byte hex hash\n", args[0], t.n+1)
			return exitUsage
		}
		if err := t.appendLeafHash(tlog.Hash(*(*[32]byte)(b))); err != nil {
			fmt.Fprintf(os.Stderr, "tree-body: %v\n", err)
			return exitUsage
		}
	}
	if t.n < n {
		fmt.Fprintf(os.Stderr, "tree-body: %s has %d leaf hashes, checkpoint size is %d\n", args[0], t.n, n)
		return exitUsage
	}
	got, err := t.root(n)
	if err != nil || got != root {
		fmt.Fprintf(os.Stderr, "tree-body: root of %d leaf hashes is %v (%v), checkpoint says %v\n", n, got, err, root)
		return exitUsage
	}
	proof, err := t.proof(old, n)
	if err != nil {
		fmt.Fprintf(os.Stderr, "tree-body: %v\n", err)
		return exitUsage
	}
	os.Stdout.Write(requestBody(old, proof, cp))
	return exitOK
}

// openNoteCmd implements `open-note VKEY FILE [WANT_SIZE]`: x/mod note.Open
// with the log's verifier (other signatures, such as cosignatures, are
// unknown keys and ignored), then the checkpoint's size.
func openNoteCmd(args []string) int {
	if len(args) != 2 && len(args) != 3 {
		return usage()
	}
	s, err := vkeyArg(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "open-note: %v\n", err)
		return exitUsage
	}
	v, err := note.NewVerifier(s)
	if err != nil {
		fmt.Fprintf(os.Stderr, "open-note: verifier %q: %v\n", s, err)
		return exitUsage
	}
	msg, err := os.ReadFile(args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "open-note: %v\n", err)
		return exitUsage
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		fmt.Printf("open-note: x/mod note.Open rejects %s: %v\n", args[1], err)
		return exitMismatch
	}
	origin, size, root, err := parseCheckpointText(n.Text)
	if err != nil {
		fmt.Printf("open-note: %v\n", err)
		return exitMismatch
	}
	if len(args) == 3 && strconv.FormatInt(size, 10) != args[2] {
		fmt.Printf("open-note: checkpoint size %d, want %s\n", size, args[2])
		return exitMismatch
	}
	fmt.Printf("open-note: x/mod note.Open accepts %q size %d root %v, signed by %s (%d other signature(s))\n",
		origin, size, root, v.Name(), len(n.UnverifiedSigs))
	return exitOK
}

// checkSkey implements `check-skey SKEY_FILE COSIG_VKEY`: the witness's
// signer key is in Go's note format (x/mod note.NewSigner accepts it) and
// holds the private key of the cosignature vkey it printed.
func checkSkey(args []string) int {
	if len(args) != 2 {
		return usage()
	}
	data, err := os.ReadFile(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "check-skey: %v\n", err)
		return exitUsage
	}
	skey := strings.TrimSpace(string(data))
	s, err := vkeyArg(args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "check-skey: %v\n", err)
		return exitUsage
	}
	ck, err := parseCosigVkey(s)
	if err != nil {
		fmt.Printf("check-skey: witness vkey: %v\n", err)
		return exitMismatch
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		fmt.Printf("check-skey: x/mod note.NewSigner rejects the key file: %v\n", err)
		return exitMismatch
	}
	parts := strings.SplitN(skey, "+", 5) // base64 may hold "+", names may not
	raw, _ := base64.StdEncoding.DecodeString(parts[len(parts)-1])
	if len(parts) != 5 || len(raw) != 1+ed25519.SeedSize || raw[0] != sigTypeEd25519 {
		fmt.Println("check-skey: key file does not hold base64(0x01 || 32-byte seed)")
		return exitMismatch
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	if signer.Name() != ck.name || !pub.Equal(ck.pub) {
		fmt.Printf("check-skey: key file is %s with public key %x; vkey is %s with %x\n",
			signer.Name(), []byte(pub), ck, []byte(ck.pub))
		return exitMismatch
	}
	fmt.Printf("check-skey: note.NewSigner accepts %s+%08x; its public key is the one of cosignature vkey %s\n",
		signer.Name(), signer.KeyHash(), ck)
	return exitOK
}

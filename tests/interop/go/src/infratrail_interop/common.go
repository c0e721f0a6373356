package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

const (
	tileHeight       = 8
	algEd25519       = 0x01
	algCosignatureV1 = 0x04
	receiptHeader    = "c2sp.org/tlog-proof@v1"
)

// storedTree holds every hash of a tree in tlog's stored-hash order, as
// written by tlog.StoredHashes; it is a tlog.HashReader.
type storedTree struct {
	n      int64
	hashes []tlog.Hash
}

func (t *storedTree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(t.hashes)) {
			return nil, fmt.Errorf("stored hash index %d out of range (%d stored)", x, len(t.hashes))
		}
		out[i] = t.hashes[x]
	}
	return out, nil
}

func buildTree(leaves [][]byte) (*storedTree, error) {
	t := &storedTree{}
	for i, data := range leaves {
		hs, err := tlog.StoredHashes(int64(i), data, t)
		if err != nil {
			return nil, err
		}
		t.hashes = append(t.hashes, hs...)
		t.n++
	}
	return t, nil
}

// finalTiles lists the tiles of a tree of size n as C2SP publishes them:
// tlog.NewTiles(8, 0, n) lists every partial width up to the final one; keep
// only the widest tile at each (level, index).
func finalTiles(n int64) []tlog.Tile {
	var out []tlog.Tile
	for _, t := range tlog.NewTiles(tileHeight, 0, n) {
		if k := len(out); k > 0 && out[k-1].L == t.L && out[k-1].N == t.N {
			out[k-1] = t
			continue
		}
		out = append(out, t)
	}
	return out
}

// C2SP paths are Go's tile/H/L/N paths without the height element.
func c2spPath(t tlog.Tile) string {
	return "tile/" + strings.TrimPrefix(t.Path(), fmt.Sprintf("tile/%d/", tileHeight))
}

func goPathFromC2SP(p string) (string, error) {
	if !strings.HasPrefix(p, "tile/") {
		return "", fmt.Errorf("tile path %q does not start with tile/", p)
	}
	return fmt.Sprintf("tile/%d/", tileHeight) + strings.TrimPrefix(p, "tile/"), nil
}

// keyID is the C2SP signed-note key ID: SHA-256(name || "\n" || alg || key)[:4].
func keyID(name string, alg byte, pub []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', alg})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// x/mod v0.7.0 has no tlog-cosignature support, so the cosignature/v1
// (type 0x04) signer and verifier are implemented here from the C2SP spec:
// the witness signs "cosignature/v1\ntime <t>\n" || checkpoint body and the
// signature is timestamp(8, big-endian) || Ed25519(64) after the key ID.
func cosignatureMessage(ts uint64, body []byte) []byte {
	return append([]byte(fmt.Sprintf("cosignature/v1\ntime %d\n", ts)), body...)
}

func cosigVkey(name string, pub ed25519.PublicKey) string {
	return fmt.Sprintf("%s+%08x+%s", name, keyID(name, algCosignatureV1, pub),
		base64.StdEncoding.EncodeToString(append([]byte{algCosignatureV1}, pub...)))
}

// cosigVerifier is a note.Verifier for type 0x04 keys. It records the
// timestamp of every signature it accepts.
type cosigVerifier struct {
	name  string
	id    uint32
	pub   ed25519.PublicKey
	times []uint64
}

func (v *cosigVerifier) Name() string    { return v.name }
func (v *cosigVerifier) KeyHash() uint32 { return v.id }
func (v *cosigVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	ts := binary.BigEndian.Uint64(sig)
	if !ed25519.Verify(v.pub, cosignatureMessage(ts, msg), sig[8:]) {
		return false
	}
	v.times = append(v.times, ts)
	return true
}

func parseCosigVkey(vkey string) (*cosigVerifier, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 || len(parts[1]) != 8 {
		return nil, fmt.Errorf("cosignature vkey %q: want name+id+key", vkey)
	}
	id, err1 := strconv.ParseUint(parts[1], 16, 32)
	key, err2 := base64.StdEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || len(key) != 1+ed25519.PublicKeySize || key[0] != algCosignatureV1 {
		return nil, fmt.Errorf("cosignature vkey %q: malformed or not type 0x04", vkey)
	}
	v := &cosigVerifier{name: parts[0], id: uint32(id), pub: ed25519.PublicKey(key[1:])}
	if want := keyID(v.name, algCosignatureV1, v.pub); want != v.id {
		return nil, fmt.Errorf("cosignature vkey %q: key ID %08x, want %08x", vkey, v.id, want)
	}
	return v, nil
}

// cosigSigner is a note.Signer producing cosignature/v1 lines at a fixed time.
type cosigSigner struct {
	name string
	priv ed25519.PrivateKey
	time uint64
}

func (s *cosigSigner) Name() string { return s.name }
func (s *cosigSigner) KeyHash() uint32 {
	return keyID(s.name, algCosignatureV1, s.priv.Public().(ed25519.PublicKey))
}
func (s *cosigSigner) Sign(msg []byte) ([]byte, error) {
	var out [8]byte
	binary.BigEndian.PutUint64(out[:], s.time)
	return append(out[:], ed25519.Sign(s.priv, cosignatureMessage(s.time, msg))...), nil
}

// ed25519FromSkey decodes a note "PRIVATE+KEY+name+id+base64(0x01||seed)".
func ed25519FromSkey(skey string) (string, ed25519.PrivateKey, error) {
	parts := strings.SplitN(skey, "+", 5)
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return "", nil, errors.New("malformed signer key")
	}
	key, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(key) != 1+ed25519.SeedSize || key[0] != algEd25519 {
		return "", nil, errors.New("signer key is not an Ed25519 seed")
	}
	return parts[2], ed25519.NewKeyFromSeed(key[1:]), nil
}

// Proof records: "inclusion <index> <size> <root> <count>" or
// "consistency <size1> <size2> <root1> <root2> <count>", then <count> hashes.
type proofRecord struct {
	kind   string
	nums   [2]int64    // index, size  |  size1, size2
	roots  []tlog.Hash // 1 for inclusion, 2 for consistency
	hashes []tlog.Hash
}

func formatRecords(records []proofRecord) string {
	var b strings.Builder
	for _, r := range records {
		fmt.Fprintf(&b, "%s %d %d", r.kind, r.nums[0], r.nums[1])
		for _, h := range r.roots {
			fmt.Fprintf(&b, " %s", h)
		}
		fmt.Fprintf(&b, " %d\n", len(r.hashes))
		for _, h := range r.hashes {
			fmt.Fprintf(&b, "%s\n", h)
		}
	}
	return b.String()
}

func parseRecords(lines []string, kind string) ([]proofRecord, error) {
	nroots := 1
	if kind == "consistency" {
		nroots = 2
	}
	var out []proofRecord
	for i := 0; i < len(lines); {
		f := strings.Split(lines[i], " ")
		if len(f) != 4+nroots || f[0] != kind {
			return nil, fmt.Errorf("line %d: want %q and %d fields", i+1, kind, 3+nroots)
		}
		r := proofRecord{kind: kind}
		var err error
		for k := 0; k < 2 && err == nil; k++ {
			r.nums[k], err = strconv.ParseInt(f[1+k], 10, 64)
		}
		for k := 0; k < nroots && err == nil; k++ {
			var h tlog.Hash
			h, err = tlog.ParseHash(f[3+k])
			r.roots = append(r.roots, h)
		}
		count, err2 := strconv.Atoi(f[3+nroots])
		if err != nil || err2 != nil || count < 0 || i+1+count > len(lines) {
			return nil, fmt.Errorf("line %d: malformed %s record", i+1, kind)
		}
		for k := 0; k < count; k++ {
			h, err := tlog.ParseHash(lines[i+1+k])
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", i+2+k, err)
			}
			r.hashes = append(r.hashes, h)
		}
		i += 1 + count
		out = append(out, r)
	}
	return out, nil
}

// receipt is a c2sp.org/tlog-proof@v1 file.
type receipt struct {
	extra      []byte // nil when absent
	index      int64
	proof      tlog.RecordProof
	checkpoint []byte
}

func (r *receipt) format() []byte {
	var b bytes.Buffer
	b.WriteString(receiptHeader + "\n")
	if r.extra != nil {
		fmt.Fprintf(&b, "extra %s\n", base64.StdEncoding.EncodeToString(r.extra))
	}
	fmt.Fprintf(&b, "index %d\n", r.index)
	for _, h := range r.proof {
		fmt.Fprintf(&b, "%s\n", h)
	}
	b.WriteString("\n")
	b.Write(r.checkpoint)
	return b.Bytes()
}

func parseReceipt(text []byte) (*receipt, error) {
	split := bytes.Index(text, []byte("\n\n"))
	if split < 0 {
		return nil, errors.New("receipt: no blank line before the checkpoint")
	}
	lines := strings.Split(string(text[:split]), "\n")
	r := &receipt{checkpoint: text[split+2:]}
	if lines[0] != receiptHeader {
		return nil, fmt.Errorf("receipt: header %q", lines[0])
	}
	lines = lines[1:]
	if len(lines) > 0 && strings.HasPrefix(lines[0], "extra ") {
		extra, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(lines[0], "extra "))
		if err != nil {
			return nil, fmt.Errorf("receipt: extra: %v", err)
		}
		r.extra, lines = extra, lines[1:]
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "index ") {
		return nil, errors.New("receipt: missing index line")
	}
	index, err := strconv.ParseInt(strings.TrimPrefix(lines[0], "index "), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("receipt: index: %v", err)
	}
	r.index = index
	for _, l := range lines[1:] {
		h, err := tlog.ParseHash(l)
		if err != nil {
			return nil, fmt.Errorf("receipt: proof hash: %v", err)
		}
		r.proof = append(r.proof, h)
	}
	return r, nil
}

// parseCheckpoint reads origin, size and root from a checkpoint body.
func parseCheckpoint(text string) (origin string, size int64, root tlog.Hash, err error) {
	lines := strings.Split(text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		return "", 0, tlog.Hash{}, fmt.Errorf("checkpoint %q: want origin, size, root lines", text)
	}
	size, err = strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return "", 0, tlog.Hash{}, fmt.Errorf("checkpoint size: %v", err)
	}
	root, err = tlog.ParseHash(lines[2])
	if err != nil {
		return "", 0, tlog.Hash{}, fmt.Errorf("checkpoint root: %v", err)
	}
	return lines[0], size, root, nil
}

// Tree sizes and leaf indices proofs are made for: edges of tiles and of
// the tree (the same choice as interop_tool.cc, though neither side relies
// on that).
func proofSizes(n int64) []int64 {
	var out []int64
	seen := map[int64]bool{}
	for _, s := range []int64{1, 2, 3, 7, 256, 257, 65536, n/2 + 1, n - 1, n} {
		if s >= 1 && s <= n && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sortInt64s(out)
	return out
}

func proofIndices(size int64) []int64 {
	var out []int64
	seen := map[int64]bool{}
	for _, i := range []int64{0, 1, size / 3, size / 2, size - 2, size - 1, 255, 256, 65535, 65536} {
		if i >= 0 && i < size && !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	sortInt64s(out)
	return out
}

func sortInt64s(a []int64) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j-1] > a[j]; j-- {
			a[j-1], a[j] = a[j], a[j-1]
		}
	}
}

func writeFile(dir, name string, data []byte) error {
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, data, 0o644)
}

func readLines(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, nil
	}
	if data[len(data)-1] != '\n' {
		return nil, fmt.Errorf("%s: last line has no newline", path)
	}
	return strings.Split(string(data[:len(data)-1]), "\n"), nil
}

func readOneLine(path string) (string, error) {
	lines, err := readLines(path)
	if err != nil {
		return "", err
	}
	if len(lines) != 1 {
		return "", fmt.Errorf("%s: %d lines, want 1", path, len(lines))
	}
	return lines[0], nil
}

func readNumber(path string) (int64, error) {
	line, err := readOneLine(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(line, 10, 64)
}

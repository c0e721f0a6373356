package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// sliceEqual compares element-wise: tlog returns empty non-nil proofs, so
// reflect.DeepEqual would tell nil from empty.
func sliceEqual[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checker counts checks and reports each failure on stderr.
type checker struct {
	checks, failures int
}

func (c *checker) expect(ok bool, what string, detail ...interface{}) bool {
	c.checks++
	if !ok {
		c.failures++
		msg := ""
		if len(detail) > 0 {
			msg = ": " + fmt.Sprint(detail...)
		}
		fmt.Fprintf(os.Stderr, "infratrail_interop verify: FAIL %s%s\n", what, msg)
	}
	return ok
}

func (c *checker) expectNoErr(err error, what string) bool {
	if err != nil {
		return c.expect(false, what, err)
	}
	return c.expect(true, what)
}

// cppOutput is everything interop_tool wrote, parsed as far as file formats go.
type cppOutput struct {
	logSkey, logVkey, witSkey, witVkey, witCosigVkey string
	size, cosigTime                                  int64
	leaves, leafHashes                               []string
	tilePaths                                        []string
	note, receipt                                    []byte
	inclusion, consistency                           []proofRecord
}

func loadCPP(dir string) (*cppOutput, error) {
	o := &cppOutput{}
	p := func(name string) string { return filepath.Join(dir, name) }
	var err error
	for _, f := range []struct {
		out  *string
		name string
	}{{&o.logSkey, "log.skey"}, {&o.logVkey, "log.vkey"}, {&o.witSkey, "witness.skey"},
		{&o.witVkey, "witness.vkey"}, {&o.witCosigVkey, "witness.cosig.vkey"}} {
		if *f.out, err = readOneLine(p(f.name)); err != nil {
			return nil, err
		}
	}
	if o.size, err = readNumber(p("size.txt")); err != nil {
		return nil, err
	}
	if o.cosigTime, err = readNumber(p("cosig_time.txt")); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		out  *[]string
		name string
	}{{&o.leaves, "leaves.txt"}, {&o.leafHashes, "leaf_hashes.txt"}, {&o.tilePaths, "tiles.txt"}} {
		if *f.out, err = readLines(p(f.name)); err != nil {
			return nil, err
		}
	}
	if o.note, err = os.ReadFile(p("checkpoint.note")); err != nil {
		return nil, err
	}
	if o.receipt, err = os.ReadFile(p("receipt.tlog-proof")); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		out  *[]proofRecord
		name string
	}{{&o.inclusion, "inclusion"}, {&o.consistency, "consistency"}} {
		lines, err := readLines(p(f.name + ".txt"))
		if err != nil {
			return nil, err
		}
		if *f.out, err = parseRecords(lines, f.name); err != nil {
			return nil, fmt.Errorf("%s.txt: %v", f.name, err)
		}
	}
	return o, nil
}

type goKeys struct {
	log         note.Verifier
	logSigner   note.Signer
	witnessPriv ed25519.PrivateKey
	cosig       *cosigVerifier
}

// checkKeys parses the C++ key texts with x/mod's parsers and checks that Go
// derives exactly the same texts from the same keys.
func checkKeys(o *cppOutput, c *checker) (*goKeys, bool) {
	k := &goKeys{}
	var err1, err2, err3, err4 error
	k.log, err1 = note.NewVerifier(o.logVkey)
	k.logSigner, err2 = note.NewSigner(o.logSkey)
	witVerifier, err3 := note.NewVerifier(o.witVkey)
	witSigner, err4 := note.NewSigner(o.witSkey)
	ok := c.expectNoErr(err1, "note.NewVerifier(C++ log.vkey)")
	ok = c.expectNoErr(err2, "note.NewSigner(C++ log.skey)") && ok
	ok = c.expectNoErr(err3, "note.NewVerifier(C++ witness.vkey)") && ok
	ok = c.expectNoErr(err4, "note.NewSigner(C++ witness.skey)") && ok
	cosig, err := parseCosigVkey(o.witCosigVkey)
	ok = c.expectNoErr(err, "parse C++ witness.cosig.vkey (type 0x04)") && ok
	witName, witPriv, err := ed25519FromSkey(o.witSkey)
	ok = c.expectNoErr(err, "decode C++ witness.skey seed") && ok
	logName, logPriv, err := ed25519FromSkey(o.logSkey)
	ok = c.expectNoErr(err, "decode C++ log.skey seed") && ok
	if !ok {
		return nil, false
	}
	k.cosig, k.witnessPriv = cosig, witPriv
	c.expect(k.log.Name() == k.logSigner.Name() && k.log.KeyHash() == k.logSigner.KeyHash(),
		"log signer and verifier agree on name and key hash")
	c.expect(witVerifier.Name() == witSigner.Name() && witVerifier.KeyHash() == witSigner.KeyHash(),
		"witness signer and verifier agree on name and key hash")
	vk, err := note.NewEd25519VerifierKey(logName, logPriv.Public().(ed25519.PublicKey))
	c.expect(err == nil && vk == o.logVkey, "note.NewEd25519VerifierKey reproduces C++ log.vkey", vk)
	vk, err = note.NewEd25519VerifierKey(witName, witPriv.Public().(ed25519.PublicKey))
	c.expect(err == nil && vk == o.witVkey, "note.NewEd25519VerifierKey reproduces C++ witness.vkey", vk)
	c.expect(cosig.name == witName && bytes.Equal(cosig.pub, witPriv.Public().(ed25519.PublicKey)),
		"cosignature vkey has the witness's name and public key")
	c.expect(cosigVkey(witName, witPriv.Public().(ed25519.PublicKey)) == o.witCosigVkey,
		"cosignature vkey text", cosigVkey(witName, witPriv.Public().(ed25519.PublicKey)))
	return k, true
}

// c2spTileReader serves tlog.TileHashReader from C2SP tile files, recording
// which paths it was asked for.
type c2spTileReader struct {
	dir  string
	read map[string]bool
}

func (r *c2spTileReader) Height() int                     { return tileHeight }
func (r *c2spTileReader) SaveTiles([]tlog.Tile, [][]byte) {}
func (r *c2spTileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		p := c2spPath(t)
		data, err := os.ReadFile(filepath.Join(r.dir, filepath.FromSlash(p)))
		if err != nil {
			return nil, err
		}
		if len(data) != t.W*tlog.HashSize {
			return nil, fmt.Errorf("tile %s: %d bytes, want %d", p, len(data), t.W*tlog.HashSize)
		}
		r.read[p] = true
		out[i] = data
	}
	return out, nil
}

func checkTiles(dir string, o *cppOutput, tree *storedTree, root tlog.Hash, c *checker) {
	var want, got []string
	for _, t := range finalTiles(o.size) {
		want = append(want, t.Path())
	}
	listed := map[string]bool{}
	for _, p := range o.tilePaths {
		listed[p] = true
		gp, err := goPathFromC2SP(p)
		if !c.expectNoErr(err, "C++ tile path") {
			continue
		}
		t, err := tlog.ParseTilePath(gp)
		if !c.expectNoErr(err, "tlog.ParseTilePath("+gp+")") {
			continue
		}
		got = append(got, t.Path())
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if !c.expectNoErr(err, "read C++ tile") {
			continue
		}
		ours, err := tlog.ReadTileData(t, tree)
		c.expect(err == nil && bytes.Equal(data, ours), "C++ tile "+p+" equals tlog.ReadTileData")
	}
	c.expect(sliceEqual(got, want), "C++ tile set equals tlog.NewTiles(8, 0, N) (widest of each)",
		fmt.Sprintf("got %v want %v", got, want))

	// Go's tile-authenticating reader over the C++ files: the root, and
	// proofs for the full tree, computed from nothing but C++ tiles.
	tr := &c2spTileReader{dir: dir, read: map[string]bool{}}
	thr := tlog.TileHashReader(tlog.Tree{N: o.size, Hash: root}, tr)
	th, err := tlog.TreeHash(o.size, thr)
	c.expect(err == nil && th == root, "tlog.TreeHash over C++ tiles (TileHashReader) equals checkpoint root", err)
	for _, r := range o.inclusion {
		if r.nums[1] != o.size {
			continue
		}
		p, err := tlog.ProveRecord(o.size, r.nums[0], thr)
		c.expect(err == nil && sliceEqual(p, r.hashes),
			fmt.Sprintf("tlog.ProveRecord(%d, %d) over C++ tiles equals C++ proof", o.size, r.nums[0]), err)
	}
	for _, r := range o.consistency {
		if r.nums[1] != o.size {
			continue
		}
		p, err := tlog.ProveTree(o.size, r.nums[0], thr)
		c.expect(err == nil && sliceEqual(p, r.hashes),
			fmt.Sprintf("tlog.ProveTree(%d, %d) over C++ tiles equals C++ proof", o.size, r.nums[0]), err)
	}
	for p := range tr.read {
		c.expect(listed[p], "tile read by TileHashReader is listed in tiles.txt", p)
	}
}

// checkNote opens a checkpoint note with the log key and the 0x04 witness
// key, requiring both signatures to verify; it returns the note.
func checkNote(msg []byte, k *goKeys) (*note.Note, error) {
	n, err := note.Open(msg, note.VerifierList(k.log, k.cosig))
	if err != nil {
		return nil, err
	}
	if len(n.Sigs) != 2 {
		return nil, fmt.Errorf("%d verified signatures, want log + witness", len(n.Sigs))
	}
	return n, nil
}

func verify(dir string) int {
	o, err := loadCPP(dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "infratrail_interop verify: cannot load %s: %v\n", dir, err)
		return exitUsage
	}
	c := &checker{}
	k, ok := checkKeys(o, c)
	if !ok {
		return exitMismatch
	}

	// Leaves: tlog.RecordHash of C++'s data equals C++'s HashLeaf.
	c.expect(o.size > 0 && int64(len(o.leaves)) == o.size && int64(len(o.leafHashes)) == o.size,
		"leaf count equals tree size")
	leaves := make([][]byte, len(o.leaves))
	leafHashes := make([]tlog.Hash, len(o.leaves))
	bad := 0
	for i, l := range o.leaves {
		data, err := base64.StdEncoding.DecodeString(l)
		leaves[i], leafHashes[i] = data, tlog.RecordHash(data)
		if err != nil || i >= len(o.leafHashes) || leafHashes[i].String() != o.leafHashes[i] {
			bad++
		}
	}
	c.expect(bad == 0, "tlog.RecordHash equals C++ leaf hash for every leaf", bad, " differ")
	if c.failures > 0 {
		return exitMismatch
	}
	tree, err := buildTree(leaves)
	if err != nil {
		fmt.Fprintf(os.Stderr, "infratrail_interop verify: building tree: %v\n", err)
		return exitUsage
	}
	root, err := tlog.TreeHash(o.size, tree)
	if err != nil {
		fmt.Fprintf(os.Stderr, "infratrail_interop verify: TreeHash: %v\n", err)
		return exitUsage
	}

	// Checkpoint: signature (note.Open), cosignature, body, byte-exact re-signing.
	n, err := checkNote(o.note, k)
	if c.expectNoErr(err, "note.Open of C++ checkpoint.note with log key and 0x04 witness key") {
		origin, size, cpRoot, err := parseCheckpoint(n.Text)
		if c.expectNoErr(err, "parse C++ checkpoint body") {
			c.expect(origin == k.log.Name(), "checkpoint origin is the log key name", origin)
			c.expect(size == o.size, "checkpoint size", size)
			c.expect(cpRoot == root, "checkpoint root equals tlog.TreeHash", cpRoot, " != ", root)
		}
		c.expect(len(k.cosig.times) == 1 && k.cosig.times[0] == uint64(o.cosigTime),
			"cosignature timestamp", k.cosig.times)
		resigned, err := note.Sign(&note.Note{Text: n.Text}, k.logSigner,
			&cosigSigner{name: k.cosig.name, priv: k.witnessPriv, time: uint64(o.cosigTime)})
		c.expect(err == nil && bytes.Equal(resigned, o.note),
			"note.Sign with C++'s keys reproduces C++'s note byte for byte",
			fmt.Sprintf("\nGo:\n%s\nC++:\n%s", resigned, o.note))
	}
	logOnly, err := note.Open(o.note, note.VerifierList(k.log))
	c.expect(err == nil && len(logOnly.Sigs) == 1 && len(logOnly.UnverifiedSigs) == 1,
		"note.Open with only the log key keeps the cosignature unverified", err)

	// Receipt.
	rc, err := parseReceipt(o.receipt)
	if c.expectNoErr(err, "parse C++ receipt.tlog-proof") {
		c.expect(bytes.Equal(rc.format(), o.receipt), "receipt re-formats byte for byte")
		c.expect(bytes.Equal(rc.checkpoint, o.note), "receipt carries checkpoint.note")
		_, err := checkNote(rc.checkpoint, k)
		c.expectNoErr(err, "note.Open of receipt checkpoint")
		if c.expect(rc.index >= 0 && rc.index < o.size, "receipt index in tree", rc.index) {
			c.expectNoErr(tlog.CheckRecord(rc.proof, o.size, root, rc.index, leafHashes[rc.index]),
				"tlog.CheckRecord of C++ receipt proof")
		}
	}

	// Proofs.
	c.expect(len(o.inclusion) > 0 && len(o.consistency) > 0, "C++ wrote proofs")
	for _, r := range o.inclusion {
		index, size := r.nums[0], r.nums[1]
		what := fmt.Sprintf("C++ inclusion proof index %d size %d", index, size)
		if !c.expect(index >= 0 && index < size && size <= o.size, what, "out of range") {
			continue
		}
		th, err := tlog.TreeHash(size, tree)
		c.expect(err == nil && th == r.roots[0], what+": root equals tlog.TreeHash")
		c.expectNoErr(tlog.CheckRecord(r.hashes, size, r.roots[0], index, leafHashes[index]),
			what+": tlog.CheckRecord")
		p, err := tlog.ProveRecord(size, index, tree)
		c.expect(err == nil && sliceEqual(p, r.hashes), what+": equals tlog.ProveRecord")
	}
	for _, r := range o.consistency {
		size1, size2 := r.nums[0], r.nums[1]
		what := fmt.Sprintf("C++ consistency proof %d -> %d", size1, size2)
		if !c.expect(size1 >= 1 && size1 <= size2 && size2 <= o.size, what, "out of range") {
			continue
		}
		th1, err1 := tlog.TreeHash(size1, tree)
		th2, err2 := tlog.TreeHash(size2, tree)
		c.expect(err1 == nil && err2 == nil && th1 == r.roots[0] && th2 == r.roots[1],
			what+": roots equal tlog.TreeHash")
		c.expectNoErr(tlog.CheckTree(r.hashes, size2, r.roots[1], size1, r.roots[0]),
			what+": tlog.CheckTree")
		p, err := tlog.ProveTree(size2, size1, tree)
		c.expect(err == nil && sliceEqual(p, r.hashes), what+": equals tlog.ProveTree")
	}

	checkTiles(dir, o, tree, root, c)

	if c.failures > 0 {
		fmt.Fprintf(os.Stderr, "infratrail_interop verify %s: %d of %d checks FAILED\n", dir, c.failures, c.checks)
		return exitMismatch
	}
	fmt.Printf("infratrail_interop verify: size %d: all %d checks passed (%d inclusion, %d consistency proofs, %d tiles)\n",
		o.size, c.checks, len(o.inclusion), len(o.consistency), len(o.tilePaths))
	return exitOK
}

func verifyNote(dir, notePath string) int {
	logVkey, err1 := readOneLine(filepath.Join(dir, "log.vkey"))
	cosigText, err2 := readOneLine(filepath.Join(dir, "witness.cosig.vkey"))
	msg, err3 := os.ReadFile(notePath)
	for _, err := range []error{err1, err2, err3} {
		if err != nil {
			fmt.Fprintf(os.Stderr, "infratrail_interop verify-note: %v\n", err)
			return exitUsage
		}
	}
	logV, err := note.NewVerifier(logVkey)
	if err != nil {
		fmt.Fprintf(os.Stderr, "infratrail_interop verify-note: log.vkey: %v\n", err)
		return exitUsage
	}
	cosig, err := parseCosigVkey(cosigText)
	if err != nil {
		fmt.Fprintf(os.Stderr, "infratrail_interop verify-note: %v\n", err)
		return exitUsage
	}
	n, err := checkNote(msg, &goKeys{log: logV, cosig: cosig})
	if err == nil {
		var origin string
		origin, _, _, err = parseCheckpoint(n.Text)
		if err == nil && origin != logV.Name() {
			err = fmt.Errorf("origin %q is not the log key name %q", origin, logV.Name())
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "infratrail_interop verify-note: %s REJECTED: %v\n", notePath, strings.TrimSpace(err.Error()))
		return exitMismatch
	}
	fmt.Printf("infratrail_interop verify-note: %s verified (log signature and cosignature)\n", notePath)
	return exitOK
}

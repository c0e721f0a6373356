package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const (
	goLogName     = "interop.infratrail.example/log-go"
	goWitnessName = "witness.infratrail.example/w-go"
	cosigTimeBase = 1700000000
)

// deterministicKey runs note.GenerateKey on a fixed seed, so runs repeat.
func deterministicKey(name, seed string) (skey, vkey string, err error) {
	sum := sha256.Sum256([]byte(seed))
	return note.GenerateKey(bytes.NewReader(sum[:]), name)
}

func goLeafData(i int64) []byte {
	// Varying length with NUL bytes, so base64 and hashing see both.
	return []byte(fmt.Sprintf("go x/mod tlog interop record %d%s", i, strings.Repeat("\x00", int(i%3))))
}

func generate(dir string, n int64) error {
	files := map[string][]byte{}
	logSkey, logVkey, err := deterministicKey(goLogName, "infratrail interop go log seed")
	if err != nil {
		return err
	}
	witSkey, witVkey, err := deterministicKey(goWitnessName, "infratrail interop go witness seed")
	if err != nil {
		return err
	}
	logSigner, err := note.NewSigner(logSkey)
	if err != nil {
		return err
	}
	_, witPriv, err := ed25519FromSkey(witSkey)
	if err != nil {
		return err
	}
	files["log.skey"] = []byte(logSkey + "\n")
	files["log.vkey"] = []byte(logVkey + "\n")
	files["witness.skey"] = []byte(witSkey + "\n")
	files["witness.vkey"] = []byte(witVkey + "\n")
	files["witness.cosig.vkey"] = []byte(cosigVkey(goWitnessName, witPriv.Public().(ed25519.PublicKey)) + "\n")
	files["size.txt"] = []byte(fmt.Sprintf("%d\n", n))

	leaves := make([][]byte, n)
	var leavesTxt, hashesTxt strings.Builder
	for i := range leaves {
		leaves[i] = goLeafData(int64(i))
		fmt.Fprintf(&leavesTxt, "%s\n", base64.StdEncoding.EncodeToString(leaves[i]))
		fmt.Fprintf(&hashesTxt, "%s\n", tlog.RecordHash(leaves[i]))
	}
	files["leaves.txt"] = []byte(leavesTxt.String())
	files["leaf_hashes.txt"] = []byte(hashesTxt.String())
	tree, err := buildTree(leaves)
	if err != nil {
		return err
	}
	root, err := tlog.TreeHash(n, tree)
	if err != nil {
		return err
	}

	body := fmt.Sprintf("%s\n%d\n%s\n", goLogName, n, root)
	ts := uint64(cosigTimeBase + n)
	msg, err := note.Sign(&note.Note{Text: body}, logSigner,
		&cosigSigner{name: goWitnessName, priv: witPriv, time: ts})
	if err != nil {
		return err
	}
	files["checkpoint.note"] = msg
	files["cosig_time.txt"] = []byte(fmt.Sprintf("%d\n", ts))

	rp, err := tlog.ProveRecord(n, n/2, tree)
	if err != nil {
		return err
	}
	files["receipt.tlog-proof"] = (&receipt{index: n / 2, proof: rp, checkpoint: msg}).format()

	var incl, cons []proofRecord
	sizes := proofSizes(n)
	for _, size := range sizes {
		r, err := tlog.TreeHash(size, tree)
		if err != nil {
			return err
		}
		for _, index := range proofIndices(size) {
			p, err := tlog.ProveRecord(size, index, tree)
			if err != nil {
				return err
			}
			incl = append(incl, proofRecord{"inclusion", [2]int64{index, size}, []tlog.Hash{r}, p})
		}
		for _, size2 := range sizes {
			if size2 < size {
				continue
			}
			r2, err := tlog.TreeHash(size2, tree)
			if err != nil {
				return err
			}
			p, err := tlog.ProveTree(size2, size, tree)
			if err != nil {
				return err
			}
			cons = append(cons, proofRecord{"consistency", [2]int64{size, size2}, []tlog.Hash{r, r2}, p})
		}
	}
	files["inclusion.txt"] = []byte(formatRecords(incl))
	files["consistency.txt"] = []byte(formatRecords(cons))

	var tiles strings.Builder
	for _, t := range finalTiles(n) {
		data, err := tlog.ReadTileData(t, tree)
		if err != nil {
			return err
		}
		files[t.Path()] = data
		fmt.Fprintf(&tiles, "%s\n", t.Path())
	}
	files["tiles.txt"] = []byte(tiles.String())

	for name, data := range files {
		if err := writeFile(dir, name, data); err != nil {
			return err
		}
	}
	fmt.Printf("infratrail_interop generate: wrote tree of size %d (%d inclusion, %d consistency proofs) to %s\n",
		n, len(incl), len(cons), dir)
	return nil
}

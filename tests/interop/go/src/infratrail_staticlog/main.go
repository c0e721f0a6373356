// Command infratrail_staticlog writes a C2SP tlog-tiles log as static files
// with Go's reference golang.org/x/mod/sumdb/tlog and sumdb/note only, for
// infratrail's monitor to follow over HTTP (run_monitor_interop.sh): an
// implementation independent of infratrail's core/.
//
//	infratrail_staticlog write DIR SIZE [TAMPER_PATH]
//	infratrail_staticlog receipt SIZE INDEX
//
// write writes DIR/checkpoint (signed with note.Sign), every hash tile
// (tlog.NewTiles + tlog.ReadTileData, C2SP paths tile/L/N[.p/W]), every
// entry bundle (tile/entries/N[.p/W]: big-endian uint16 length-prefixed
// entries, which x/mod does not write) and DIR/log.vkey. The key comes
// from a fixed seed, so running it again with a larger SIZE grows the same
// log. With TAMPER_PATH, one byte of that file is changed after writing.
//
// receipt prints a C2SP tlog-proof receipt for entry INDEX of the log of
// SIZE entries: tlog.ProveRecord's proof under the same (deterministically
// signed) checkpoint that write writes, for the web console's verifier
// (tests/console/run_verify_test.sh).
//
// Built offline in GOPATH mode (GO111MODULE=off) against Debian's
// golang-golang-x-mod-dev; see run_monitor_interop.sh.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const (
	logName    = "interop.infratrail.example/go-static-log"
	tileHeight = 8
	maxEntry   = 65535
)

// storedTree holds every hash of a tree in tlog's stored-hash order; it is
// a tlog.HashReader.
type storedTree struct{ hashes []tlog.Hash }

func (t *storedTree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(t.hashes)) {
			return nil, fmt.Errorf("stored hash %d out of range", x)
		}
		out[i] = t.hashes[x]
	}
	return out, nil
}

// entry is the i-th record: varying lengths (a few past 1 KiB), any bytes.
func entry(i int64) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "go static log record %d\x00", i)
	b.Write(bytes.Repeat([]byte{byte(i)}, int(i*37%1500)))
	return b.Bytes()
}

// c2spPath maps Go's tile/8/L/N[.p/W] to C2SP's tile/L/N[.p/W], and a level-0
// tile to its entry bundle's tile/entries/N[.p/W] when bundle is set.
func c2spPath(t tlog.Tile, bundle bool) string {
	p := strings.TrimPrefix(t.Path(), fmt.Sprintf("tile/%d/", tileHeight))
	if bundle {
		return "tile/entries/" + strings.TrimPrefix(p, "0/")
	}
	return "tile/" + p
}

// staticLog is the log of n entries: its stored hashes, entries, verifier
// key and signed checkpoint.
type staticLog struct {
	tree       *storedTree
	entries    [][]byte
	vkey       string
	checkpoint []byte
}

func build(n int64) (*staticLog, error) {
	seed := sha256.Sum256([]byte("infratrail monitor interop static log"))
	skey, vkey, err := note.GenerateKey(bytes.NewReader(seed[:]), logName)
	if err != nil {
		return nil, err
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, err
	}
	l := &staticLog{tree: &storedTree{}, entries: make([][]byte, n), vkey: vkey}
	for i := int64(0); i < n; i++ {
		l.entries[i] = entry(i)
		if len(l.entries[i]) > maxEntry {
			return nil, fmt.Errorf("entry %d too large", i)
		}
		hs, err := tlog.StoredHashes(i, l.entries[i], l.tree)
		if err != nil {
			return nil, err
		}
		l.tree.hashes = append(l.tree.hashes, hs...)
	}
	root, err := tlog.TreeHash(n, l.tree)
	if err != nil {
		return nil, err
	}
	l.checkpoint, err = note.Sign(&note.Note{Text: fmt.Sprintf("%s\n%d\n%s\n", logName, n, root)}, signer)
	return l, err
}

// receipt prints the tlog-proof receipt of entry index in the log of n entries.
func receipt(n, index int64) error {
	if index < 0 || index >= n {
		return fmt.Errorf("index %d not in a log of %d entries", index, n)
	}
	l, err := build(n)
	if err != nil {
		return err
	}
	proof, err := tlog.ProveRecord(n, index, l.tree)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "c2sp.org/tlog-proof@v1\nindex %d\n", index)
	for _, h := range proof {
		fmt.Fprintf(&b, "%s\n", h) // tlog.Hash prints as base64
	}
	fmt.Fprintf(&b, "\n%s", l.checkpoint)
	_, err = os.Stdout.Write(b.Bytes())
	return err
}

func write(dir string, n int64, tamper string) error {
	l, err := build(n)
	if err != nil {
		return err
	}
	tree, entries := l.tree, l.entries
	files := map[string][]byte{"log.vkey": []byte(l.vkey + "\n")}

	// NewTiles lists every partial width up to the final one: keep the
	// widest tile at each (level, index).
	var tiles []tlog.Tile
	for _, t := range tlog.NewTiles(tileHeight, 0, n) {
		if k := len(tiles); k > 0 && tiles[k-1].L == t.L && tiles[k-1].N == t.N {
			tiles[k-1] = t
			continue
		}
		tiles = append(tiles, t)
	}
	for _, t := range tiles {
		data, err := tlog.ReadTileData(t, tree)
		if err != nil {
			return err
		}
		files[c2spPath(t, false)] = data
		if t.L != 0 {
			continue
		}
		// The bundle of the same entries, checked against the tile's hashes
		// (tlog.HashFromTile) so the two cannot disagree.
		var b bytes.Buffer
		for k := int64(0); k < int64(t.W); k++ {
			i := t.N<<tileHeight + k
			h, err := tlog.HashFromTile(t, data, tlog.StoredHashIndex(0, i))
			if err != nil {
				return err
			}
			if h != tlog.RecordHash(entries[i]) {
				return fmt.Errorf("tile %s: hash %d is not entry %d's", t.Path(), k, i)
			}
			var l [2]byte
			binary.BigEndian.PutUint16(l[:], uint16(len(entries[i])))
			b.Write(l[:])
			b.Write(entries[i])
		}
		files[c2spPath(t, true)] = b.Bytes()
	}

	files["checkpoint"] = l.checkpoint

	if tamper != "" {
		data, ok := files[tamper]
		if !ok || len(data) == 0 {
			return fmt.Errorf("no file %q to tamper with", tamper)
		}
		data = append([]byte(nil), data...)
		data[len(data)/2] ^= 0x01
		files[tamper] = data
	}
	// The checkpoint last, so a reader never sees it before its tiles.
	for name, data := range files {
		if name == "checkpoint" {
			continue
		}
		if err := writeFile(dir, name, data); err != nil {
			return err
		}
	}
	if err := writeFile(dir, "checkpoint", files["checkpoint"]); err != nil {
		return err
	}
	fmt.Printf("infratrail_staticlog: wrote a log of %d entries (%d tiles) to %s\n", n, len(tiles), dir)
	return nil
}

func writeFile(dir, name string, data []byte) error {
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

func main() {
	args := os.Args[1:]
	usage := func() {
		fmt.Fprintln(os.Stderr, "usage: infratrail_staticlog write DIR SIZE [TAMPER_PATH]\n"+
			"       infratrail_staticlog receipt SIZE INDEX")
		os.Exit(2)
	}
	var err error
	switch {
	case len(args) == 3 && args[0] == "receipt":
		n, err1 := strconv.ParseInt(args[1], 10, 64)
		index, err2 := strconv.ParseInt(args[2], 10, 64)
		if err1 != nil || err2 != nil {
			usage()
		}
		err = receipt(n, index)
	case (len(args) == 3 || len(args) == 4) && args[0] == "write":
		n, perr := strconv.ParseInt(args[2], 10, 64)
		if perr != nil || n < 1 {
			fmt.Fprintln(os.Stderr, "infratrail_staticlog: SIZE must be a positive integer")
			os.Exit(2)
		}
		tamper := ""
		if len(args) == 4 {
			tamper = args[3]
		}
		err = write(args[1], n, tamper)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "infratrail_staticlog: %v\n", err)
		os.Exit(1)
	}
}

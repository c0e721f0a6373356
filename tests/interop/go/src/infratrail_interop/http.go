package main

import (
	"bufio"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// verify-http reads a log the way any C2SP tlog-tiles client does, over
// plain HTTP, and checks it with x/mod's note and tlog packages only: the
// signed checkpoint, every hash tile tlog.TileHashReader asks for, entry
// bundles, inclusion and consistency proofs, and (with -headers) the caching
// headers a CDN relies on.

const (
	// An entry bundle holds at most 256 entries of 2 + 65535 bytes.
	maxBody = 256 * (2 + 65535)
	// Above these sizes only a sample of bundles, and of leaves, is checked.
	allBundlesUpTo = 70000
	allProofsUpTo  = 3000
)

// statusError is a response other than the one wanted; the log answered.
type statusError struct {
	method, url string
	status      int
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: status %d %s", e.method, e.url, e.status, http.StatusText(e.status))
}

// httpLog fetches one log's files relative to its base URL.
type httpLog struct {
	base   *url.URL // Path has no trailing slash
	client *http.Client
}

func newHTTPLog(base string) (*httpLog, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("BASE_URL %q: want http://HOST[:PORT][/PATH]", base)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	// No transparent gzip: the bytes and lengths checked are the ones sent.
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4}
	return &httpLog{base: u, client: &http.Client{Transport: tr, Timeout: 60 * time.Second}}, nil
}

func (l *httpLog) url(p string) string { return l.base.String() + "/" + p }

// get fetches BASE_URL/p; any status but 200 is a *statusError.
func (l *httpLog) get(p string) ([]byte, http.Header, error) {
	u := l.url(p)
	resp, err := l.client.Get(u)
	if err != nil {
		return nil, nil, err // *url.Error names the method and URL
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: reading body: %v", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, &statusError{"GET", u, resp.StatusCode}
	}
	if len(body) > maxBody {
		return nil, nil, fmt.Errorf("GET %s: body longer than %d bytes", u, maxBody)
	}
	return body, resp.Header, nil
}

// raw sends one request on a new connection with the request-target exactly
// as given (no cleaning, no escaping), and returns the response header and
// whatever the server sent after it within a second.
func (l *httpLog) raw(method, target string) (*http.Response, []byte, error) {
	host := l.base.Host
	if l.base.Port() == "" {
		host = net.JoinHostPort(l.base.Hostname(), map[string]string{"http": "80", "https": "443"}[l.base.Scheme])
	}
	conn, err := net.DialTimeout("tcp", host, 10*time.Second)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %v", method, target, err)
	}
	defer conn.Close()
	if l.base.Scheme == "https" {
		conn = tls.Client(conn, &tls.Config{ServerName: l.base.Hostname()})
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
		method, target, l.base.Host); err != nil {
		return nil, nil, fmt.Errorf("%s %s: %v", method, target, err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %v", method, target, err)
	}
	if method != http.MethodHead {
		return resp, nil, nil
	}
	// Connection: close, so a server that sends no body closes at once.
	conn.SetReadDeadline(time.Now().Add(time.Second))
	extra, _ := io.ReadAll(br)
	return resp, extra, nil
}

// httpChecker counts failures and reports each on stderr.
type httpChecker struct {
	failures int
}

func (c *httpChecker) fail(format string, args ...interface{}) {
	c.failures++
	fmt.Fprintf(os.Stderr, "verify-http: FAIL "+format+"\n", args...)
}

func (c *httpChecker) expectNoErr(err error, what string) bool {
	if err != nil {
		c.fail("%s: %v", what, err)
		return false
	}
	return true
}

// c2spTilePath is c2spPath with Go's data tiles mapped to entry bundles.
func c2spTilePath(t tlog.Tile) string {
	p := c2spPath(t)
	if t.L == -1 {
		p = "tile/entries/" + strings.TrimPrefix(p, "tile/data/")
	}
	return p
}

// httpVerifier holds one verify-http run.
type httpVerifier struct {
	log     *httpLog
	c       *httpChecker
	headers bool
	fetched map[string][]byte // C2SP path -> body, tiles and bundles
	bundles int
	proofs  int
}

// checkTileHeaders: full tiles and bundles never change, so a cache may keep
// them for ever; a client relies on that being said.
func (v *httpVerifier) checkTileHeaders(p string, hdr http.Header) {
	if !v.headers || strings.Contains(p, ".p/") {
		return
	}
	if cc := strings.Join(hdr.Values("Cache-Control"), ", "); !strings.Contains(cc, "immutable") {
		v.c.fail("GET %s: full tile Cache-Control %q lacks immutable", v.log.url(p), cc)
	}
}

// fetchTile fetches a tile or bundle once; later calls return the same bytes.
func (v *httpVerifier) fetchTile(p string) ([]byte, error) {
	if data, ok := v.fetched[p]; ok {
		return data, nil
	}
	data, hdr, err := v.log.get(p)
	if err != nil {
		return nil, err
	}
	v.checkTileHeaders(p, hdr)
	v.fetched[p] = data
	return data, nil
}

// httpTileReader is the tlog.TileReader of a C2SP log over HTTP.
type httpTileReader struct{ v *httpVerifier }

func (r httpTileReader) Height() int                     { return tileHeight }
func (r httpTileReader) SaveTiles([]tlog.Tile, [][]byte) {}
func (r httpTileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		p := c2spTilePath(t)
		data, err := r.v.fetchTile(p)
		if err != nil {
			return nil, err
		}
		if len(data) != t.W*tlog.HashSize {
			return nil, fmt.Errorf("GET %s: %d bytes, want %d", r.v.log.url(p), len(data), t.W*tlog.HashSize)
		}
		out[i] = data
	}
	return out, nil
}

// decodeBundle splits an entry bundle of exactly want entries.
func decodeBundle(data []byte, want int) ([][]byte, error) {
	out := make([][]byte, 0, want)
	for i := 0; i < want; i++ {
		if len(data) < 2 {
			return nil, fmt.Errorf("entry %d: truncated length prefix (%d entries, want %d)", i, len(out), want)
		}
		n := int(binary.BigEndian.Uint16(data))
		if len(data)-2 < n {
			return nil, fmt.Errorf("entry %d: length %d but %d bytes left", i, n, len(data)-2)
		}
		out = append(out, data[2:2+n])
		data = data[2+n:]
	}
	if len(data) != 0 {
		return nil, fmt.Errorf("%d trailing bytes after %d entries", len(data), want)
	}
	return out, nil
}

// bundleTiles lists the entry bundles of a tree of size n that are checked.
func bundleTiles(n int64) []tlog.Tile {
	full := n / 256
	var ns []int64
	if n <= allBundlesUpTo {
		for i := int64(0); i < full; i++ {
			ns = append(ns, i)
		}
	} else {
		ns = []int64{0, 1, full - 1}
	}
	var out []tlog.Tile
	seen := map[int64]bool{}
	for _, i := range ns {
		if i >= 0 && i < full && !seen[i] {
			seen[i] = true
			out = append(out, tlog.Tile{H: tileHeight, L: -1, N: i, W: 256})
		}
	}
	if w := n % 256; w != 0 {
		out = append(out, tlog.Tile{H: tileHeight, L: -1, N: full, W: int(w)})
	}
	return out
}

// wantProof says whether leaf i of a tree of size n gets an inclusion proof.
func wantProof(i, n int64) bool {
	if n <= allProofsUpTo {
		return true
	}
	switch i {
	case 0, 1, 255, 256, 257, 65535, 65536, n / 2, n - 2, n - 1:
		return true
	}
	return i%256 == 0 || i%256 == 255 // bundle and level-0 tile edges
}

// checkBundles checks every entry of the chosen bundles against the level-0
// hashes, and proves a sample of them with tlog.ProveRecord.
//
// x/mod v0.7.0's TileHashReader does not always authenticate a full tile
// against its parent (it skips that when the tree hash needs fewer tiles than
// it has subtrees, e.g. size 600 and tile/0/001), so the hashes it returns are
// not proven by themselves. The proof of each bundle's first leaf is: its
// siblings are computed from the whole level-0 tile and every tile above, so
// CheckRecord against the root ties all of them to the checkpoint.
func (v *httpVerifier) checkBundles(size int64, root tlog.Hash, thr tlog.HashReader) {
	for _, t := range bundleTiles(size) {
		p := c2spTilePath(t)
		data, err := v.fetchTile(p)
		if !v.c.expectNoErr(err, "entry bundle") {
			continue
		}
		v.bundles++
		entries, err := decodeBundle(data, t.W)
		if !v.c.expectNoErr(err, "decode "+v.log.url(p)) {
			continue
		}
		first := t.N * 256
		indexes := make([]int64, len(entries))
		for k := range entries {
			indexes[k] = tlog.StoredHashIndex(0, first+int64(k))
		}
		hashes, err := thr.ReadHashes(indexes)
		if !v.c.expectNoErr(err, fmt.Sprintf("level-0 hashes of leaves [%d, %d)", first, first+int64(len(entries)))) {
			continue
		}
		for k, e := range entries {
			i := first + int64(k)
			h := tlog.RecordHash(e)
			if h != hashes[k] {
				v.c.fail("%s: entry %d (leaf %d) hashes to %v, level-0 tile says %v", v.log.url(p), k, i, h, hashes[k])
				continue
			}
			if !wantProof(i, size) {
				continue
			}
			v.proofs++
			proof, err := tlog.ProveRecord(size, i, thr)
			if v.c.expectNoErr(err, fmt.Sprintf("tlog.ProveRecord(%d, %d)", size, i)) {
				v.c.expectNoErr(tlog.CheckRecord(proof, size, root, i, h),
					fmt.Sprintf("tlog.CheckRecord(size %d, leaf %d)", size, i))
			}
		}
	}
}

// checkConsistency proves smaller trees, hashed from the same tiles, are
// prefixes of this one.
func (v *httpVerifier) checkConsistency(size int64, root tlog.Hash, thr tlog.HashReader) {
	seen := map[int64]bool{}
	for _, m := range []int64{1, size / 2, size - 1} {
		if m < 1 || m >= size || seen[m] {
			continue
		}
		seen[m] = true
		v.proofs++
		hm, err := tlog.TreeHash(m, thr)
		if !v.c.expectNoErr(err, fmt.Sprintf("tlog.TreeHash(%d)", m)) {
			continue
		}
		p, err := tlog.ProveTree(size, m, thr)
		if v.c.expectNoErr(err, fmt.Sprintf("tlog.ProveTree(%d, %d)", size, m)) {
			v.c.expectNoErr(tlog.CheckTree(p, size, root, m, hm), fmt.Sprintf("tlog.CheckTree(%d -> %d)", m, size))
		}
	}
}

// checkHead: HEAD of a full tile answers like GET, without the body.
func (v *httpVerifier) checkHead() {
	var full []string
	for p := range v.fetched {
		if !strings.Contains(p, ".p/") {
			full = append(full, p)
		}
	}
	if len(full) == 0 {
		return
	}
	sort.Strings(full)
	p := full[0]
	resp, extra, err := v.log.raw(http.MethodHead, v.log.base.EscapedPath()+"/"+p)
	if !v.c.expectNoErr(err, "HEAD") {
		return
	}
	u := v.log.url(p)
	if resp.StatusCode != http.StatusOK {
		v.c.fail("HEAD %s: status %d, want 200", u, resp.StatusCode)
	}
	if cl, want := resp.Header.Get("Content-Length"), strconv.Itoa(len(v.fetched[p])); cl != want {
		v.c.fail("HEAD %s: Content-Length %q, GET returned %s bytes", u, cl, want)
	}
	if len(extra) != 0 {
		v.c.fail("HEAD %s: %d body bytes sent", u, len(extra))
	}
}

// checkProbes: paths that are not tiles of this tree are not served.
func (v *httpVerifier) checkProbes() {
	_, _, err := v.log.get("tile/0/x999/999")
	var st *statusError
	if !errors.As(err, &st) || st.status != http.StatusNotFound {
		v.c.fail("GET %s beyond the tree: %v, want status 404", v.log.url("tile/0/x999/999"), err)
	}
	_, _, err = v.log.get("tile/0/01")
	if !errors.As(err, &st) || (st.status != http.StatusNotFound && st.status != http.StatusBadRequest) {
		v.c.fail("GET %s (short index): %v, want status 404 or 400", v.log.url("tile/0/01"), err)
	}
	// Resolved, the first names nothing, the next two a checkpoint and a
	// tile, the last two a file outside the log.
	for _, rel := range []string{
		"tile/0/../checkpoint",
		"tile/0/../../checkpoint",
		"tile/0/x001/../000",
		"tile/../../../../etc/passwd",
		"tile/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
	} {
		target := v.log.base.EscapedPath() + "/" + rel
		resp, _, err := v.log.raw(http.MethodGet, target)
		if !v.c.expectNoErr(err, "raw GET") {
			continue
		}
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusBadRequest {
			v.c.fail("GET %s://%s%s (dot segments, sent as is): status %d, want 404 or 400",
				v.log.base.Scheme, v.log.base.Host, target, resp.StatusCode)
		}
	}
}

func readVkey(arg string) (string, error) {
	if !strings.HasPrefix(arg, "@") {
		return arg, nil
	}
	data, err := os.ReadFile(arg[1:])
	return strings.TrimSpace(string(data)), err
}

const verifyHTTPUsage = "usage: infratrail_interop verify-http [-headers] BASE_URL VKEY|@FILE [MIN_SIZE]"

// verifyHTTP is the verify-http subcommand; args follow the subcommand name.
func verifyHTTP(args []string) int {
	fs := flag.NewFlagSet("verify-http", flag.ContinueOnError)
	headers := fs.Bool("headers", false, "also check Content-Type and Cache-Control headers")
	fs.Usage = func() { fmt.Fprintln(os.Stderr, verifyHTTPUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil || fs.NArg() < 2 || fs.NArg() > 3 {
		if err == nil {
			fs.Usage()
		}
		return exitUsage
	}
	minSize := int64(0)
	if fs.NArg() == 3 {
		var err error
		if minSize, err = strconv.ParseInt(fs.Arg(2), 10, 64); err != nil || minSize < 0 {
			fmt.Fprintln(os.Stderr, "verify-http: MIN_SIZE must be a non-negative integer")
			return exitUsage
		}
	}
	log, err := newHTTPLog(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(os.Stderr, "verify-http: %v\n", err)
		return exitUsage
	}
	vkey, err := readVkey(fs.Arg(1))
	var logKey note.Verifier
	if err == nil {
		logKey, err = note.NewVerifier(vkey)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "verify-http: VKEY: %v\n", err)
		return exitUsage
	}

	c := &httpChecker{}
	msg, hdr, err := log.get("checkpoint")
	var transportErr *url.Error
	if errors.As(err, &transportErr) {
		fmt.Fprintf(os.Stderr, "verify-http: log unreachable: %v\n", err)
		return exitUsage
	}
	if !c.expectNoErr(err, "checkpoint") {
		return exitMismatch
	}
	cpURL := log.url("checkpoint")
	if *headers {
		if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			c.fail("GET %s: Content-Type %q, want text/plain", cpURL, ct)
		}
		if cc := strings.Join(hdr.Values("Cache-Control"), ", "); strings.Contains(cc, "immutable") {
			c.fail("GET %s: checkpoint Cache-Control %q says immutable", cpURL, cc)
		}
	}
	// Only the log's key is known: witness cosignatures are left unverified,
	// and note.Open fails unless the log's own signature verifies.
	n, err := note.Open(msg, note.VerifierList(logKey))
	if !c.expectNoErr(err, "note.Open of "+cpURL+" with the log key") {
		return exitMismatch
	}
	origin, size, root, err := parseCheckpoint(n.Text)
	if !c.expectNoErr(err, "parse "+cpURL) {
		return exitMismatch
	}
	if origin != logKey.Name() {
		c.fail("%s: origin %q is not the log key name %q", cpURL, origin, logKey.Name())
	}
	if size < minSize {
		c.fail("%s: tree size %d < MIN_SIZE %d", cpURL, size, minSize)
	}

	v := &httpVerifier{log: log, c: c, headers: *headers, fetched: map[string][]byte{}}
	if size == 0 {
		if empty := tlog.Hash(sha256.Sum256(nil)); root != empty {
			c.fail("%s: size 0 with root %v, want SHA-256(\"\") %v", cpURL, root, empty)
		}
	} else {
		thr := tlog.TileHashReader(tlog.Tree{N: size, Hash: root}, httpTileReader{v})
		th, err := tlog.TreeHash(size, thr)
		if c.expectNoErr(err, fmt.Sprintf("tlog.TreeHash(%d) over tiles from %s", size, log.url(""))) &&
			th != root {
			c.fail("tlog.TreeHash(%d) over tiles = %v, checkpoint root %v", size, th, root)
		}
		v.checkBundles(size, root, thr)
		v.checkConsistency(size, root, thr)
	}
	v.checkHead()
	v.checkProbes()

	if c.failures > 0 {
		fmt.Fprintf(os.Stderr, "verify-http: %s: %d checks FAILED\n", log.url(""), c.failures)
		return exitMismatch
	}
	fmt.Printf("verify-http: OK size=%d tiles=%d bundles=%d proofs=%d\n",
		size, len(v.fetched)-v.bundles, v.bundles, v.proofs)
	return exitOK
}

var _ tlog.TileReader = httpTileReader{}

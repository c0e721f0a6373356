// Command infratrail_witness_interop is the Go half of the interop tests of
// `infratrail-verifier witness`, a C2SP tlog-witness server
// (tests/witness/run_go_interop.sh, run_real_checkpoints.sh). It plays the
// log with Go's reference golang.org/x/mod/sumdb/note and sumdb/tlog, and
// checks the witness's cosignatures with a cosignature/v1 verifier written
// from the C2SP spec with the standard library only (cosig.go).
//
//	newlog DIR NAME                  new Ed25519 log key (crypto/rand):
//	                                 DIR/log.skey, DIR/log.vkey, DIR/logs.txt
//	                                 (logs/v0 list with that log)
//	body DIR OLD NEW [OPTION]...     add-checkpoint body for the test log of
//	                                 leaves "leaf <i>\n": "old OLD", the
//	                                 consistency proof OLD -> NEW (none if OLD
//	                                 is 0 or NEW), a blank line, the size-NEW
//	                                 checkpoint signed with DIR/log.skey.
//	                                 --bad-proof  first proof hash changed
//	                                 --wrong-root another root for size NEW
//	                                 --junk-proof one more proof line
//	                                 --bad-sig    log signature changed
//	tree-body LEAF_HASHES OLD CHECKPOINT
//	                                 add-checkpoint body for a real log's
//	                                 checkpoint, the proof from OLD computed
//	                                 from its leaf hashes (hex, one a line)
//	verify-cosig VKEY BODY RESPONSE  the 200 response to BODY is cosignature/v1
//	                                 lines from the witness VKEY (stdlib only)
//	verify-cosig VKEY NOTE           NOTE carries a cosignature from VKEY
//	verify-vectors FILE              the stdlib verifier over
//	                                 tests/testdata/cosignature_vectors.json
//	open-note VKEY FILE [SIZE]       x/mod note.Open accepts FILE with the
//	                                 log's VKEY (and its size is SIZE)
//	check-skey SKEY_FILE VKEY        the witness key file is a Go note signer
//	                                 key for the cosignature VKEY
//
// VKEY arguments are a vkey or @FILE. Exit codes: 0 all checks passed, 1 a
// check failed, 2 usage error or unreadable input.
//
// Built offline in GOPATH mode (GO111MODULE=off) against Debian's
// golang-golang-x-mod-dev; see tests/witness/witness_lib.sh.
package main

import (
	"fmt"
	"os"
)

const (
	exitOK       = 0
	exitMismatch = 1
	exitUsage    = 2
)

func usage() int {
	fmt.Fprintln(os.Stderr, `usage: infratrail_witness_interop
  newlog DIR NAME
  body DIR OLD NEW [--bad-proof|--wrong-root|--junk-proof|--bad-sig]...
  tree-body LEAF_HASHES OLD CHECKPOINT
  verify-cosig VKEY BODY RESPONSE | verify-cosig VKEY NOTE
  verify-vectors FILE
  open-note VKEY FILE [SIZE]
  check-skey SKEY_FILE VKEY`)
	return exitUsage
}

func run(args []string) int {
	if len(args) == 0 {
		return usage()
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "newlog":
		if len(rest) != 2 {
			return usage()
		}
		if err := newLog(rest[0], rest[1]); err != nil {
			fmt.Fprintf(os.Stderr, "newlog: %v\n", err)
			return exitUsage
		}
		return exitOK
	case "body":
		return makeBody(rest)
	case "tree-body":
		return treeBody(rest)
	case "verify-cosig":
		return verifyCosig(rest)
	case "verify-vectors":
		if len(rest) != 1 {
			return usage()
		}
		return verifyVectors(rest[0])
	case "open-note":
		return openNoteCmd(rest)
	case "check-skey":
		return checkSkey(rest)
	}
	return usage()
}

func main() {
	os.Exit(run(os.Args[1:]))
}

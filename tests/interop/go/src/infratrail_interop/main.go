// Command infratrail_interop is the Go half of infratrail's two-way interop
// test: it checks what the C++ interop_tool wrote using Go's reference
// packages golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog, and
// writes the same kind of files for the C++ side to check. The file layout is
// described in tests/interop/interop_io.h.
//
//	infratrail_interop generate DIR SIZE     write a log of SIZE leaves to DIR
//	infratrail_interop verify DIR            check everything C++ wrote to DIR
//	infratrail_interop verify-note DIR NOTE  open NOTE as a checkpoint of DIR's
//	                                         log (log key and its witness)
//	infratrail_interop verify-http [-headers] BASE_URL VKEY|@FILE [MIN_SIZE]
//	                                         read a live log over HTTP as a
//	                                         C2SP tlog-tiles client (http.go)
//
// Exit codes: 0 all checks passed, 1 a check failed, 2 usage error or
// unreadable input.
//
// Built offline in GOPATH mode (GO111MODULE=off) against Debian's
// golang-golang-x-mod-dev; see run_interop.sh.
package main

import (
	"fmt"
	"os"
	"strconv"
)

const (
	exitOK       = 0
	exitMismatch = 1
	exitUsage    = 2
)

func usage() int {
	fmt.Fprintln(os.Stderr, "usage: infratrail_interop generate DIR SIZE | verify DIR | verify-note DIR NOTE |")
	fmt.Fprintln(os.Stderr, "       verify-http [-headers] BASE_URL VKEY|@FILE [MIN_SIZE]")
	return exitUsage
}

func run(args []string) int {
	switch {
	case len(args) == 3 && args[0] == "generate":
		n, err := strconv.ParseInt(args[2], 10, 64)
		if err != nil || n < 1 {
			fmt.Fprintln(os.Stderr, "infratrail_interop generate: SIZE must be a positive integer")
			return exitUsage
		}
		if err := generate(args[1], n); err != nil {
			fmt.Fprintf(os.Stderr, "infratrail_interop generate: %v\n", err)
			return exitUsage
		}
		return exitOK
	case len(args) == 2 && args[0] == "verify":
		return verify(args[1])
	case len(args) == 3 && args[0] == "verify-note":
		return verifyNote(args[1], args[2])
	case len(args) >= 1 && args[0] == "verify-http":
		return verifyHTTP(args[1:])
	}
	return usage()
}

func main() {
	os.Exit(run(os.Args[1:]))
}

package main

// verify-cosig: checks a witness's cosignatures with the standard-library
// verifier of cosig.go (no golang.org/x/mod here).

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// A witness signs "now"; the test and the witness share a clock, so ten
// minutes covers a slow run without accepting a stale or zero timestamp.
const maxCosigAge = 10 * time.Minute

// vkeyArg reads a vkey given literally or as @FILE.
func vkeyArg(arg string) (string, error) {
	if !strings.HasPrefix(arg, "@") {
		return arg, nil
	}
	data, err := os.ReadFile(arg[1:])
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(data)), nil
}

// checkFresh refuses a zero timestamp and one more than maxCosigAge away
// from now in either direction.
func checkFresh(ts uint64, now time.Time) error {
	if ts == 0 {
		return errors.New("timestamp is zero (tlog-witness: a cosignature MUST NOT omit the timestamp)")
	}
	d := now.Sub(time.Unix(int64(ts), 0))
	if d > maxCosigAge || d < -maxCosigAge {
		return fmt.Errorf("timestamp %d is %v away from now (%d), more than %v",
			ts, d.Round(time.Second), now.Unix(), maxCosigAge)
	}
	return nil
}

// verifyCosig implements
//
//	verify-cosig VKEY BODY_FILE RESPONSE_FILE
//	    RESPONSE_FILE is the 200 body of POST /add-checkpoint for the request
//	    BODY_FILE: every line must be a cosignature from VKEY over the
//	    request's checkpoint;
//	verify-cosig VKEY NOTE_FILE
//	    NOTE_FILE is a cosigned checkpoint (GET /<hash>/checkpoint): lines
//	    from other key names are skipped, every line with VKEY's name must
//	    verify.
//
// VKEY is a type 0x04 vkey, literally or as @FILE. Every cosignature from
// the witness must have a non-zero timestamp within maxCosigAge of now.
// Exit 0 iff at least one cosignature from VKEY verifies and none fails.
func verifyCosig(args []string) int {
	if len(args) != 2 && len(args) != 3 {
		return usage()
	}
	s, err := vkeyArg(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "verify-cosig: %v\n", err)
		return exitUsage
	}
	k, err := parseCosigVkey(s)
	if err != nil {
		fmt.Fprintf(os.Stderr, "verify-cosig: witness key: %v\n", err)
		return exitMismatch
	}
	var body []byte
	var lines []string
	strict := len(args) == 3
	if strict {
		req, err := os.ReadFile(args[1])
		if err != nil {
			fmt.Fprintf(os.Stderr, "verify-cosig: %v\n", err)
			return exitUsage
		}
		cp, err := checkpointFromRequest(req)
		if err == nil {
			body, _, err = splitNote(cp)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "verify-cosig: request %s: %v\n", args[1], err)
			return exitUsage
		}
		resp, err := os.ReadFile(args[2])
		if err != nil {
			fmt.Fprintf(os.Stderr, "verify-cosig: %v\n", err)
			return exitUsage
		}
		if len(resp) == 0 || resp[len(resp)-1] != '\n' {
			fmt.Printf("FAIL response %s: %d bytes, want signature lines each ending in a newline: %q\n",
				args[2], len(resp), truncate(string(resp), 200))
			return exitMismatch
		}
		lines = strings.Split(string(resp[:len(resp)-1]), "\n")
	} else {
		note, err := os.ReadFile(args[1])
		if err != nil {
			fmt.Fprintf(os.Stderr, "verify-cosig: %v\n", err)
			return exitUsage
		}
		if body, lines, err = splitNote(note); err != nil {
			fmt.Printf("FAIL note %s: %v\n", args[1], err)
			return exitMismatch
		}
	}

	now := time.Now()
	ok, bad := 0, 0
	var times []string
	for i, line := range lines {
		ts, err := verifyCosigLine(k, body, line)
		if err == nil {
			err = checkFresh(ts, now)
		}
		switch {
		case err == nil:
			ok++
			times = append(times, fmt.Sprint(ts))
			fmt.Printf("ok   line %d: cosignature/v1 from %s, time %d (%ds ago), over %s\n",
				i+1, k, ts, now.Unix()-int64(ts), checkpointSummary(body))
		case !strict && errors.Is(err, errOtherName):
			fmt.Printf("skip line %d: %v\n", i+1, err)
		default:
			bad++
			fmt.Printf("FAIL line %d: %v\n", i+1, err)
		}
	}
	if ok == 0 || bad != 0 {
		fmt.Printf("verify-cosig: %d cosignature(s) from %s verified, %d failed, over %s\n",
			ok, k, bad, checkpointSummary(body))
		return exitMismatch
	}
	fmt.Printf("verify-cosig: %d cosignature(s) from %s verified (time %s) over %s\n",
		ok, k, strings.Join(times, ","), checkpointSummary(body))
	return exitOK
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

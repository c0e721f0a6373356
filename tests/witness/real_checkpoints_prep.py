"""Turns the real-checkpoint test data into files for run_real_checkpoints.sh.

    real_checkpoints_prep.py TESTDATA_DIR OUT_DIR

From real_checkpoints.json (production and staging logs: Ed25519 0x01,
ECDSA 0x02 and RFC 6962 0x05 log keys) and tiles_vectors.json
(tessera_testdata_log, with its leaf hashes) writes:

  OUT_DIR/logs.txt             logs/v0 list of every log; an "origin" line
                               when the origin is not the key name
  OUT_DIR/logs.tsv             one line per production log: DIR, origin,
                               checkpoint sizes in ascending order
  OUT_DIR/<DIR>/cp.<SIZE>.note the checkpoint note of that size
  OUT_DIR/<DIR>/cp.<SIZE>.logsig  its signature line(s) from the log key
  OUT_DIR/tessera/leaves.txt   tessera's leaf hashes, hex, one a line
  OUT_DIR/tessera/cp.<SIZE>.note, .logsig, and OUT_DIR/tessera/origin

A log is identified by its origin; its key is the one verifier key of each
checkpoint that is neither a cosignature key (type 0x04) nor marked as used
for cosignatures. Exits 1, saying why, if the data does not fit that.
"""

import base64
import json
import os
import sys

SIG_PREFIX = "\u2014 "


def fail(msg):
    print("real_checkpoints_prep: " + msg, file=sys.stderr)
    sys.exit(1)


def vkey_id(vkey):
    name, key_id, _ = vkey.split("+", 2)
    return name, key_id


def log_sig_lines(note, vkey):
    """The note's signature lines made by the log key (name and key ID)."""
    name, key_id = vkey_id(vkey)
    out = []
    for line in note[note.rindex("\n\n") + 2:].splitlines():
        if not line.startswith(SIG_PREFIX):
            fail("signature line %r" % line)
        sig_name, b64 = line[len(SIG_PREFIX):].split(" ", 1)
        if sig_name == name and base64.b64decode(b64)[:4].hex() == key_id:
            out.append(line)
    return out


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def main():
    if len(sys.argv) != 3:
        fail("usage: real_checkpoints_prep.py TESTDATA_DIR OUT_DIR")
    testdata, out = sys.argv[1], sys.argv[2]
    with open(os.path.join(testdata, "real_checkpoints.json"), encoding="utf-8") as f:
        real = json.load(f)
    with open(os.path.join(testdata, "tiles_vectors.json"), encoding="utf-8") as f:
        tessera = json.load(f)["tessera_testdata_log"]

    logs = {}  # origin -> {"vkey", "notes": {size: note}}
    for cp in real["checkpoints"]:
        origin, size, note = cp["origin"], int(cp["tree_size"]), cp["note"]
        lines = note.split("\n")
        if lines[0] != origin or lines[1] != str(size):
            fail("%s: note does not start with origin %r size %d" % (cp["id"], origin, size))
        keys = [k for k in cp["verifier_keys"]
                if k.get("vkey_sig_type") != 4 and "used_as" not in k]
        if len(keys) != 1:
            fail("%s: %d log keys among %r" % (cp["id"], len(keys), cp["verifier_keys"]))
        log = logs.setdefault(origin, {"vkey": keys[0]["vkey"], "notes": {}})
        if log["vkey"] != keys[0]["vkey"]:
            fail("%s: log %r has two keys" % (cp["id"], origin))
        if size == 0:
            fail("%s: a size-0 checkpoint cannot test a first cosignature" % cp["id"])
        if size in log["notes"] and log["notes"][size] != note:
            print("real_checkpoints_prep: %s: another note of %r size %d, keeping the first"
                  % (cp["id"], origin, size), file=sys.stderr)
            continue
        log["notes"][size] = note

    t_origin, t_vkey = tessera["origin"], tessera["verifier_key"]
    if t_origin in logs:
        fail("tessera origin %r is also a production log" % t_origin)

    entries = ["logs/v0", "# every log of tests/testdata/real_checkpoints.json and"
               " tessera_testdata_log of tiles_vectors.json", ""]
    tsv = []
    for i, origin in enumerate(sorted(logs)):
        log = logs[origin]
        d = "log%02d" % i
        entries.append("vkey " + log["vkey"])
        if vkey_id(log["vkey"])[0] != origin:
            entries.append("origin " + origin)
        entries.append("")
        sizes = sorted(log["notes"])
        for size in sizes:
            note = log["notes"][size]
            sigs = log_sig_lines(note, log["vkey"])
            if not sigs:
                fail("%r size %d: no signature line from the log key" % (origin, size))
            write(os.path.join(out, d, "cp.%d.note" % size), note)
            write(os.path.join(out, d, "cp.%d.logsig" % size), "\n".join(sigs) + "\n")
        tsv.append("%s\t%s\t%s" % (d, origin, " ".join(map(str, sizes))))

    entries.append("vkey " + t_vkey)
    if vkey_id(t_vkey)[0] != t_origin:
        entries.append("origin " + t_origin)
    write(os.path.join(out, "logs.txt"), "\n".join(entries) + "\n")
    write(os.path.join(out, "logs.tsv"), "\n".join(tsv) + "\n")

    tdir = os.path.join(out, "tessera")
    leaves = tessera["leaf_hashes"]
    write(os.path.join(tdir, "leaves.txt"), "\n".join(leaves) + "\n")
    write(os.path.join(tdir, "origin"), t_origin + "\n")
    sizes = []
    for cp in tessera["checkpoints"]:
        size, note = int(cp["tree_size"]), cp["note"]
        if note.split("\n")[:2] != [t_origin, str(size)]:
            fail("tessera checkpoint %d: note %r" % (size, note[:80]))
        write(os.path.join(tdir, "cp.%d.note" % size), note)
        write(os.path.join(tdir, "cp.%d.logsig" % size),
              "\n".join(log_sig_lines(note, t_vkey)) + "\n")
        sizes.append(size)
    if sizes != list(range(len(leaves) + 1)):
        fail("tessera checkpoint sizes %r, want 0..%d" % (sizes, len(leaves)))

    types = sorted({base64.b64decode(l["vkey"].split("+", 2)[2])[0] for l in logs.values()})
    print("real_checkpoints_prep: %d production logs (%d checkpoints; log key types %s) and"
          " tessera (%d checkpoints)" % (len(logs), sum(len(l["notes"]) for l in logs.values()),
                                         ", ".join("0x%02x" % t for t in types), len(sizes)))


if __name__ == "__main__":
    main()

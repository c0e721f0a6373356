#!/usr/bin/env python3
"""The docs smoke test: every runnable shell block in docs/*.md is run.

A block is runnable when the line directly before its fence is the HTML
comment `<!-- runnable -->` and the fence is ```sh or ```bash (GitHub renders
the comment as nothing and the block as usual). The blocks of one file run in
order in one bash shell with `set -euo pipefail`, in a fresh scratch
directory, with stdin from /dev/null. A block that exits non-zero fails the
test, which names the file, the line of the block's fence, the line of the
failing command where bash can tell, and prints the block's output. A file
whose blocks leave a process running fails too (stop what you start).

What the harness provides, on loopback with ephemeral ports, in a temporary
directory (kept on failure):
  - a log: `infratrail-server` (key docs.infratrail.example/log) publishing
    only checkpoints its witness cosigned (a C2SP tlog-policy, quorum 1), and
    holding the events of scripts/demo-events.jsonl;
  - a witness: `infratrail-verifier witness` that knows that log;
  - a monitor: `infratrail-verifier monitor` following the log over tiles,
    requiring the policy, every second, serving its view on --http-addr.
Each block sees these variables (a doc says so in a "set these first"
block that is not runnable):
  PATH              the built infratrail, infratrail-server and
                    infratrail-verifier first
  WORK              the scratch directory (also the working directory, HOME
                    and TMPDIR); a copy of docs/examples is in WORK/examples
  INFRATRAIL_SERVER the log's gRPC address, HOST:PORT
  TILES_URL         the log's tiles HTTP, http://HOST:PORT (no trailing /)
  METRICS_URL       the log's Prometheus endpoint, http://HOST:PORT/metrics
  LOG_VKEY          a file holding the log's verifier key
  LOG_POLICY        a file holding the log's C2SP tlog-policy (the log key,
                    the witness with its URL, quorum)
  LOG_DATA_DIR      the log's data directory (for read-only commands such as
                    fsck and export, which are safe beside a running server)
  WITNESS_URL       the witness, http://HOST:PORT
  WITNESS_VKEY      a file holding the witness's verifier key
  MONITOR_URL       the monitor's --http-addr, http://HOST:PORT

Before the docs, the harness checks itself on a made-up document with a
failing block: it must report that block's file and line.

Usage: docs_smoke.py SOURCE_DIR WORK_BASE INFRATRAIL INFRATRAIL_SERVER
                     INFRATRAIL_VERIFIER [DOC.md ...]
(the three programs' paths; all of SOURCE_DIR/docs/*.md when no DOC is
given). DOCS_SMOKE_VERBOSE=1 prints every block's output. Exit 0 when every block
passed, 1 otherwise, 2 on a usage error.
"""

import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

MARKER = re.compile(r"^<!--\s*runnable\s*-->\s*$")
OPEN_FENCE = re.compile(r"^(`{3,})\s*([A-Za-z0-9_+-]*)")
RUNNABLE_LANGS = ("sh", "bash")
FILE_TIMEOUT_S = 120
START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 30
LOG_ORIGIN = "docs.infratrail.example/log"


class Failure(Exception):
    pass


def say(msg):
    print(f"docs_smoke: {msg}", flush=True)


# --- Finding the blocks ------------------------------------------------------


def runnable_blocks(path):
    """[(fence_line, [lines])] of the runnable blocks of a markdown file.

    Raises Failure for a marker that is not directly before a ```sh or
    ```bash fence, and for a runnable block that is never closed.
    """
    lines = open(path, encoding="utf-8").read().split("\n")
    blocks = []
    fence = None  # the backticks of the fence we are in
    i = 0
    while i < len(lines):
        line = lines[i]
        if fence is not None:
            if closes(line, fence):
                fence = None
            i += 1
            continue
        if MARKER.match(line):
            m = OPEN_FENCE.match(lines[i + 1]) if i + 1 < len(lines) else None
            if m is None or m.group(2) not in RUNNABLE_LANGS:
                raise Failure(f"{path}:{i + 1}: <!-- runnable --> must be directly followed by a "
                              f"```sh or ```bash fence")
            start = i + 2  # 1-based line of the fence
            body = []
            j = i + 2
            while j < len(lines) and not closes(lines[j], m.group(1)):
                body.append(lines[j])
                j += 1
            if j == len(lines):
                raise Failure(f"{path}:{start}: runnable block is never closed")
            blocks.append((start, body))
            i = j + 1
            continue
        m = OPEN_FENCE.match(line)
        if m is not None:
            fence = m.group(1)
        i += 1
    return blocks


def closes(line, fence):
    """Whether `line` closes a block opened by `fence` (CommonMark: only
    backticks, at least as many)."""
    s = line.strip()
    return bool(s) and set(s) == {"`"} and len(s) >= len(fence)


# --- Running one file's blocks -----------------------------------------------


def run_file(label, blocks, env, work, ctl, timeout_s=FILE_TIMEOUT_S):
    """Runs the blocks in one bash; returns None or a failure message."""
    status = os.path.join(ctl, "status")
    errline = os.path.join(ctl, "errline")
    outs = [os.path.join(ctl, f"block{n}.out") for n in range(len(blocks))]
    script = [
        "set -Eeuo pipefail",
        # The first failing command's line; bash's LINENO counts script lines.
        f"trap '[ -e {shlex.quote(errline)} ] || echo \"$LINENO\" > {shlex.quote(errline)}' ERR",
    ]
    offsets = []  # (script line of the block's first line, doc line of it)
    for n, (fence_line, body) in enumerate(blocks):
        script.append(f"echo {n} > {shlex.quote(status)}")
        script.append("{")
        offsets.append((len(script) + 1, fence_line + 1))
        script.extend(body)
        script.append(f"}} > {shlex.quote(outs[n])} 2>&1 < /dev/null")
    script.append(f"echo done > {shlex.quote(status)}")
    script_path = os.path.join(ctl, "script.sh")
    with open(script_path, "w", encoding="utf-8") as f:
        f.write("\n".join(script) + "\n")

    start = time.monotonic()
    proc = subprocess.Popen(["bash", "--noprofile", "--norc", script_path], cwd=work, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    timed_out = False
    try:
        rc = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        rc = None
    leftovers = stop_group(proc.pid)
    if timed_out:
        proc.wait()
    elapsed = time.monotonic() - start

    state = open(status).read().strip() if os.path.exists(status) else ""
    if rc == 0 and state == "done" and not leftovers:
        return None, elapsed
    n = int(state) if state.isdigit() else 0
    fence_line, body = blocks[n]
    where = f"{label}:{fence_line}"
    if timed_out:
        why = f"still running after {timeout_s} s (killed)"
    elif rc != 0:
        why = f"exited {rc}"
        if os.path.exists(errline):
            bad = int(open(errline).read().strip() or 0)
            first_script, first_doc = offsets[n]
            if first_script <= bad < first_script + len(body):
                why += f", at {label}:{first_doc + bad - first_script}"
    else:
        n = len(blocks) - 1
        fence_line = blocks[n][0]
        where = f"{label}:{fence_line}"
        why = f"left {leftovers} process(es) running after its last block (killed); stop what you start"
    output = open(outs[n], errors="replace").read() if os.path.exists(outs[n]) else ""
    text = [f"FAIL {where}: runnable block {n + 1} of {len(blocks)} {why}", "--- the block:"]
    text += [f"    {b}" for b in body]
    text.append("--- its output:")
    text += [f"    {o}" for o in output.rstrip("\n").split("\n")] if output else ["    (none)"]
    return "\n".join(text), elapsed


def stop_group(pgid):
    """SIGTERM, then SIGKILL, every process left in the group; how many were left."""
    left = group_members(pgid)
    if not left:
        return 0
    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return len(left)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and group_members(pgid):
            time.sleep(0.05)
        if not group_members(pgid):
            break
    return len(left)


def group_members(pgid):
    """Pids of live (not zombie) processes in process group pgid."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            pids.append(int(entry))
    return pids


# --- The harness's own processes ---------------------------------------------


class Process:
    def __init__(self, name, argv, tmp, env):
        self.name = name
        self.out = os.path.join(tmp, f"{name}.out")
        self.err = os.path.join(tmp, f"{name}.err")
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         env=env)

    def alive_or_fail(self):
        if self.proc.poll() is not None:
            raise Failure(f"{self.name} exited {self.proc.returncode} while starting; "
                          f"stderr:\n{tail(self.err)}")

    def stop(self):
        """SIGTERM; it must exit 0 within STOP_TIMEOUT_S. Returns None or why not."""
        if self.proc.poll() is not None:
            return f"{self.name} had already exited {self.proc.returncode}; stderr:\n{tail(self.err)}"
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return f"{self.name} still running {STOP_TIMEOUT_S} s after SIGTERM (killed)"
        if rc != 0:
            return f"{self.name} exited {rc} on SIGTERM; stderr:\n{tail(self.err)}"
        return None


def tail(path, n=30):
    try:
        lines = open(path, errors="replace").read().rstrip("\n").split("\n")
    except OSError:
        return "    (no file)"
    return "\n".join("    " + line for line in lines[-n:])


def poll(what, condition, procs):
    """Calls condition() until it returns a true value (START_TIMEOUT_S at most)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        value = condition()
        if value:
            return value
        for p in procs:
            p.alive_or_fail()
        if time.monotonic() > deadline:
            raise Failure(f"{what}: not within {START_TIMEOUT_S} s")
        time.sleep(0.05)


def json_file(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def first_json_line(path):
    try:
        with open(path) as f:
            line = f.readline()
        return json.loads(line) if line.endswith("\n") else None
    except (OSError, ValueError):
        return None


def http_status(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(argv, env, **kw):
    r = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise Failure(f"{shlex.join(argv)}: exit {r.returncode}\n{r.stderr}")
    return r.stdout


def start_harness(programs, source, tmp, env, procs):
    """Starts witness, server and monitor; returns the variables for the docs."""
    cli, server, verifier = programs

    log_vkey = os.path.join(tmp, "log.vkey")
    vkey = run([cli, "keygen", "--origin", LOG_ORIGIN, "--out", os.path.join(tmp, "log.key")],
               env).strip()
    open(log_vkey, "w").write(vkey + "\n")
    witness_vkey = os.path.join(tmp, "witness.vkey")
    wvkey = run([verifier, "witness", "keygen", "--name", "docs.infratrail.example/witness",
                 "--out", os.path.join(tmp, "witness.key")], env).strip().split("\n")[0]
    open(witness_vkey, "w").write(wvkey + "\n")
    logs = os.path.join(tmp, "witness-logs.txt")
    open(logs, "w").write(f"logs/v0\nvkey {vkey}\n")

    witness = Process("witness", [verifier, "witness", "--key", os.path.join(tmp, "witness.key"),
                                  "--state-dir", os.path.join(tmp, "witness-state"),
                                  "--listen", "127.0.0.1:0", "--logs", logs], tmp, env)
    procs.append(witness)
    line = poll("the witness's listening line", lambda: first_json_line(witness.out), procs)
    witness_url = f"http://{line['listening']}"

    policy = os.path.join(tmp, "log.policy")
    open(policy, "w").write(f"log {vkey}\nwitness w1 {wvkey} {witness_url}\nquorum w1\n")

    data = os.path.join(tmp, "data")
    ready = os.path.join(tmp, "ready.json")
    srv = Process("server", [server, "--data-dir", data, "--signing-key", os.path.join(tmp, "log.key"),
                             "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
                             "--metrics-addr", "127.0.0.1:0", "--witness-policy", policy,
                             "--ready-file", ready], tmp, env)
    procs.append(srv)
    ports = poll("the server's --ready-file", lambda: json_file(ready), procs)
    grpc = f"127.0.0.1:{ports['grpc_port']}"
    tiles = f"http://127.0.0.1:{ports['http_port']}"
    run([cli, "add", "--server", grpc, "--witness-policy", policy, "--wait",
         "--file", os.path.join(source, "scripts", "demo-events.jsonl")], env, timeout=60)

    # The monitor does not say which port it got, so it gets a free one.
    origin_hash = hashlib.sha256(LOG_ORIGIN.encode()).hexdigest()
    for attempt in range(3):
        port = free_port()
        mon = Process("monitor", [verifier, "monitor", "--log", tiles + "/", "--witness-policy",
                                  policy, "--state-dir", os.path.join(tmp, "monitor-state"),
                                  "--http-addr", f"127.0.0.1:{port}", "--interval", "1s",
                                  "--progress", "never"], tmp, env)
        monitor_url = f"http://127.0.0.1:{port}"
        try:
            poll("the monitor's first verified checkpoint",
                 lambda: http_status(f"{monitor_url}/{origin_hash}/checkpoint") == 200, [mon])
            procs.append(mon)
            break
        except Failure:
            if mon.proc.poll() is None or attempt == 2:
                mon.proc.kill()
                mon.proc.wait()
                raise
    return {
        "INFRATRAIL_SERVER": grpc,
        "TILES_URL": tiles,
        "METRICS_URL": f"http://127.0.0.1:{ports['metrics_port']}/metrics",
        "LOG_VKEY": log_vkey,
        "LOG_POLICY": policy,
        "LOG_DATA_DIR": data,
        "WITNESS_URL": witness_url,
        "WITNESS_VKEY": witness_vkey,
        "MONITOR_URL": monitor_url,
    }


# --- The harness checks itself -----------------------------------------------


def self_check(tmp):
    """A made-up doc whose second block fails at its second command must be
    reported with its file and line; one that leaves a process must fail."""
    doc = os.path.join(tmp, "selfcheck.md")
    open(doc, "w").write("\n".join([
        "# made up", "", "<!-- runnable -->", "```sh", "x=1", "```", "", "```sh", "false", "```",
        "<!-- runnable -->", "```bash", 'echo "x is $x"', "test \"$x\" = 2", "echo never", "```", ""]))
    blocks = runnable_blocks(doc)
    if [b[0] for b in blocks] != [4, 12]:
        raise Failure(f"self-check: found blocks at {[b[0] for b in blocks]}, want [4, 12]")
    work = tempfile.mkdtemp(dir=tmp)
    ctl = tempfile.mkdtemp(dir=tmp)
    msg, _ = run_file("selfcheck.md", blocks, dict(os.environ), work, ctl, timeout_s=30)
    if msg is None or not msg.startswith("FAIL selfcheck.md:12: runnable block 2 of 2 exited 1, at "
                                         "selfcheck.md:14") or "x is 1" not in msg:
        raise Failure(f"self-check: a failing block was reported as:\n{msg}")
    ctl = tempfile.mkdtemp(dir=tmp)
    msg, _ = run_file("selfcheck.md", [(1, ["sleep 600 &"])], dict(os.environ), work, ctl,
                      timeout_s=30)
    if msg is None or "left 1 process(es) running" not in msg:
        raise Failure(f"self-check: a block leaving a process was reported as:\n{msg}")


def main(argv):
    if len(argv) < 6:
        print("usage: docs_smoke.py SOURCE_DIR WORK_BASE INFRATRAIL INFRATRAIL_SERVER "
              "INFRATRAIL_VERIFIER [DOC.md ...]", file=sys.stderr)
        return 2
    source, base, *programs = (os.path.abspath(a) for a in argv[1:6])
    for p in programs:
        if not os.access(p, os.X_OK):
            print(f"docs_smoke: {p} is not an executable (build it first)", file=sys.stderr)
            return 2
    docs = [os.path.abspath(d) for d in argv[6:]] or sorted(
        os.path.join(source, "docs", f) for f in os.listdir(os.path.join(source, "docs"))
        if f.endswith(".md"))
    os.makedirs(base, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="docs-smoke.", dir=base)
    started = time.monotonic()
    procs = []
    failures = []
    plan = []
    total = 0
    try:
        self_check(tmp)
        for doc in docs:
            blocks = runnable_blocks(doc)
            if blocks:
                plan.append((doc, blocks))
        if not plan:
            raise Failure("no runnable blocks found in " + ", ".join(docs))
        env = dict(os.environ)
        env["PATH"] = os.pathsep.join(
            [os.path.dirname(p) for p in programs] + [env.get("PATH", "")])
        env.pop("INFRATRAIL_TOKEN", None)
        env.update(start_harness(programs, source, tmp, env, procs))
        say(f"harness up in {time.monotonic() - started:.1f} s: log {env['INFRATRAIL_SERVER']}, "
            f"tiles {env['TILES_URL']}, witness {env['WITNESS_URL']}, monitor {env['MONITOR_URL']}")
        for doc, blocks in plan:
            label = os.path.relpath(doc, source)
            name = os.path.basename(doc)[:-3]
            work = os.path.join(tmp, "work", name)
            ctl = os.path.join(tmp, "ctl", name)
            os.makedirs(os.path.join(work, "tmp"))
            os.makedirs(ctl)
            examples = os.path.join(source, "docs", "examples")
            if os.path.isdir(examples):
                shutil.copytree(examples, os.path.join(work, "examples"))
            doc_env = dict(env, WORK=work, HOME=work, TMPDIR=os.path.join(work, "tmp"))
            msg, elapsed = run_file(label, blocks, doc_env, work, ctl)
            total += len(blocks)
            if msg is None:
                say(f"ok   {label}: {len(blocks)} block(s), {elapsed:.1f} s")
                if os.environ.get("DOCS_SMOKE_VERBOSE"):
                    for n, (fence_line, _) in enumerate(blocks):
                        print(f"--- {label}:{fence_line}")
                        print(tail(os.path.join(ctl, f"block{n}.out"), 1000))
            else:
                failures.append(msg)
                print(msg, flush=True)
    except Failure as e:
        failures.append(f"FAIL {e}")
        print(failures[-1], flush=True)
    finally:
        for p in reversed(procs):
            why = p.stop()
            if why is not None:
                failures.append(f"FAIL {why}")
                print(failures[-1], flush=True)
        for m in (p for p in procs if p.name == "monitor"):
            lines = [line for line in open(m.out).read().split("\n") if line]
            if lines:
                failures.append("FAIL the harness's monitor reported findings on the log the docs "
                                "used:\n" + "\n".join("    " + l for l in lines))
                print(failures[-1], flush=True)
    elapsed = time.monotonic() - started
    if failures:
        say(f"FAILED: {len(failures)} failure(s); {total} block(s) run in {elapsed:.1f} s; "
            f"work directory kept: {tmp}")
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    say(f"OK: {total} runnable block(s) in {len(plan)} file(s), {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

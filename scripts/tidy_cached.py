#!/usr/bin/env python3
"""clang-tidy over translation units, skipping those already known clean.

Usage: tidy_cached.py -p BUILD [-j N] [-quiet] [-extra-arg=ARG]... FILE...

What run-clang-tidy does (one clang-tidy per file, N at a time, every compile
command of build/compile_commands.json for the file), with a cache of clean
results in the manner of ccache. A unit's key is the SHA-256 of:
  - `clang-tidy --version` and the version of the clang++ that preprocesses,
  - the clang-tidy arguments given here (-quiet, -extra-arg),
  - every .clang-tidy from the unit's directory up to the repository root,
  - each compile command for the unit, output arguments dropped,
  - what clang-tidy parses under each command: the command run by the clang++
    beside clang-tidy with -E, comments, #defines and line markers kept (NOLINT
    comments, unused macros and header paths all change what clang-tidy says),
    and -D__clang_analyzer__, which clang-tidy defines,
with the repository's absolute path replaced by a placeholder everywhere, so a
clone in another directory finds what an earlier one checked. A unit whose key
has a marker (an empty file named by the key) in the cache is not checked
again. Only clean results are cached: a unit with a diagnostic, or one that
could not be preprocessed, is checked on every run.

The diagnostics of failing units go to stdout, as clang-tidy wrote them; the
one-line summary goes to stderr. Exit status 1 if any unit failed.

Cache: $INFRATRAIL_TIDY_CACHE, else ${XDG_CACHE_HOME:-$HOME/.cache}/
infratrail/clang-tidy; INFRATRAIL_TIDY_CACHE=off checks every unit. A hit
renews its marker; markers unused for 30 days are removed on every run.
"""

import argparse
import concurrent.futures
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time

# Part of every key: change it when the key's definition changes.
KEY_VERSION = b"infratrail-tidy-cache-1"
ROOT_PLACEHOLDER = b"@INFRATRAIL_ROOT@"
MAX_AGE_SECONDS = 30 * 24 * 3600
DIAGNOSTIC = re.compile(rb"(warning|error):")
LAUNCHERS = {"ccache", "sccache"}
# Arguments that name an output (with their value), dropped from the key and
# from the preprocessing command.
OUTPUT_ARGS_WITH_VALUE = {"-o", "-MF", "-MT", "-MQ"}
OUTPUT_ARGS = {"-c", "-MD", "-MMD"}


def cache_dir():
    """The cache directory, or None when caching is off."""
    configured = os.environ.get("INFRATRAIL_TIDY_CACHE", "")
    if configured == "off":
        return None
    if not configured:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
            os.path.expanduser("~"), ".cache")
        configured = os.path.join(base, "infratrail", "clang-tidy")
    try:
        os.makedirs(configured, exist_ok=True)
    except OSError as e:
        print(f"tidy_cached: no cache ({e})", file=sys.stderr)
        return None
    return configured


def prune(directory):
    """Removes markers no run has used for MAX_AGE_SECONDS."""
    cutoff = time.time() - MAX_AGE_SECONDS
    with os.scandir(directory) as entries:
        for entry in entries:
            try:
                if entry.is_file() and entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
            except OSError:
                pass  # Another run removed or renewed it.


def without_outputs(args):
    """The compile arguments without launcher, -c and output arguments."""
    if args and os.path.basename(args[0]) in LAUNCHERS:
        args = args[1:]
    kept = []
    skip_value = False
    for arg in args:
        if skip_value:
            skip_value = False
        elif arg in OUTPUT_ARGS_WITH_VALUE:
            skip_value = True
        elif arg not in OUTPUT_ARGS and not (arg.startswith("-o") and arg != "-o"):
            kept.append(arg)
    return kept


def load_commands(build_dir):
    """Maps each absolute source path to its compile commands (dir, args)."""
    with open(os.path.join(build_dir, "compile_commands.json"), encoding="utf-8") as f:
        entries = json.load(f)
    commands = {}
    for e in entries:
        args = e.get("arguments") or shlex.split(e["command"])
        path = os.path.realpath(os.path.join(e["directory"], e["file"]))
        commands.setdefault(path, []).append((e["directory"], without_outputs(args)))
    return commands


class Keyer:
    """Computes a unit's cache key; see the module comment."""

    def __init__(self, root, tidy, extra_args, tidy_args):
        self.root = os.path.realpath(root)
        # Longest first, so a path is never half replaced.
        self.root_paths = sorted({os.fsencode(root), os.fsencode(os.path.realpath(root))},
                                 key=len, reverse=True)
        beside = os.path.join(os.path.dirname(os.path.realpath(tidy)), "clang++")
        self.preprocessor = beside if os.access(beside, os.X_OK) else shutil.which("clang++")
        if self.preprocessor is None:
            sys.exit("tidy_cached: no clang++ to preprocess with")
        self.extra_args = extra_args
        versions = [subprocess.run([p, "--version"], capture_output=True, check=True).stdout
                    for p in (tidy, self.preprocessor)]
        self.common = [KEY_VERSION, *versions, "\0".join(tidy_args).encode()]

    def relative(self, data):
        for path in self.root_paths:
            data = data.replace(path, ROOT_PLACEHOLDER)
        return data

    def configs(self, path):
        """The .clang-tidy files clang-tidy may read for path, up to the root."""
        found = []
        directory = os.path.dirname(path)
        while True:
            config = os.path.join(directory, ".clang-tidy")
            if os.path.isfile(config):
                with open(config, "rb") as f:
                    found += [self.relative(os.fsencode(config)), f.read()]
            if directory == self.root or os.path.dirname(directory) == directory:
                return found
            directory = os.path.dirname(directory)

    def key(self, path, commands):
        """The key of path, or None if it cannot be preprocessed."""
        digest = hashlib.sha256()

        def add(part):
            # Length-prefixed, so no two lists of parts hash alike.
            digest.update(len(part).to_bytes(8, "little"))
            digest.update(part)

        for part in self.common + self.configs(path):
            add(part)
        for directory, args in commands:
            add(self.relative("\0".join(args).encode()))
            run = [self.preprocessor, *args[1:], *self.extra_args,
                   "-D__clang_analyzer__", "-E", "-C", "-dD"]
            result = subprocess.run(run, cwd=directory, capture_output=True)
            if result.returncode != 0:
                return None
            add(self.relative(result.stdout))
        return digest.hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-p", dest="build", required=True, help="build directory")
    parser.add_argument("-j", dest="jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("-quiet", action="store_true")
    parser.add_argument("-extra-arg", dest="extra_args", action="append", default=[])
    parser.add_argument("files", nargs="+")
    opts = parser.parse_args()

    start = time.monotonic()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tidy = shutil.which("clang-tidy") or sys.exit("tidy_cached: no clang-tidy")
    tidy_args = [f"-p={opts.build}"] + (["-quiet"] if opts.quiet else [])
    tidy_args += [f"-extra-arg={a}" for a in opts.extra_args]
    cache = cache_dir()
    if cache:
        prune(cache)
        commands = load_commands(opts.build)
        keyer = Keyer(root, tidy, opts.extra_args, tidy_args)
    lock = threading.Lock()

    def check(name):
        """Returns 'cached', 'clean' or 'failed'; prints what failed."""
        path = os.path.realpath(name)
        key = marker = None
        if cache and path in commands:
            key = keyer.key(path, commands[path])
        if key:
            marker = os.path.join(cache, key)
            try:
                os.utime(marker)
                return "cached"
            except FileNotFoundError:
                pass
        result = subprocess.run([tidy, *tidy_args, name], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        if result.returncode == 0 and not DIAGNOSTIC.search(result.stdout):
            # A unit edited while it was checked keeps no marker.
            if key and keyer.key(path, commands[path]) == key:
                open(marker, "ab").close()
            return "clean"
        with lock:
            sys.stdout.buffer.write(f"== clang-tidy {name}\n".encode() + result.stdout)
            if not DIAGNOSTIC.search(result.stdout):
                sys.stdout.buffer.write(
                    f"{name}: error: clang-tidy exited with status {result.returncode}\n".encode())
            sys.stdout.flush()
        return "failed"

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, opts.jobs)) as pool:
        outcomes = list(pool.map(check, opts.files))
    failed = outcomes.count("failed")
    print(f"clang-tidy: {len(outcomes)} units, {outcomes.count('cached')} cached, "
          f"{len(outcomes) - outcomes.count('cached')} checked, {failed} failed "
          f"({time.monotonic() - start:.0f} s)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

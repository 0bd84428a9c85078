#!/usr/bin/env python3
"""How many driver entry points the CUDA 13 static runtime resolves that gpupool answers NOT_SUPPORTED.

Reads the runtime's requests (shared/reference/cudart13-static-entry-points.txt: name, requested CUDA
version, flags) and the client's list of what it implements, proc_variants.def. A base name is implemented when some variant of it is not newer than one of the
versions the runtime asks it at; otherwise cuGetProcAddress resolves it to its unsupported.def stub, which answers
CUDA_ERROR_NOT_SUPPORTED (the runtime reports cudaErrorNotSupported) when the program calls it.

Usage: entry-point-coverage.py [--reference FILE] [--client-dir DIR] [--list] [--max N]
Prints one line per count; with --list the unsupported names too; with --max N exits 1 when more than N
base names are unsupported (the ctest guard against names moving back to unsupported.def). Exits 77
(skipped) when the reference list is not there.
"""
import argparse
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ENTRY = re.compile(r"^GPUPOOL_(PROC)\((\w+),\s*(\w+),\s*(\d+),\s*(\w+)\)")


def read_variants(path):
    """base name -> lowest CUDA version of its variants."""
    variants = {}
    with open(path) as f:
        for line in f:
            m = ENTRY.match(line.strip())
            if m:
                base, version = m.group(2), int(m.group(4))
                variants[base] = min(version, variants.get(base, version))
    return variants


def read_requests(path):
    """[(name, requested version)] in request order, without the empty first name."""
    requests = []
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip() or line.startswith('""'):
                continue
            fields = line.split()
            if len(fields) < 3:
                raise SystemExit("malformed reference line: " + line.rstrip())
            requests.append((fields[0], int(fields[1])))
    return requests


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference",
                        default=os.path.join(ROOT, "..", "shared", "reference", "cudart13-static-entry-points.txt"))
    parser.add_argument("--client-dir", default=os.path.join(ROOT, "remoting", "client"))
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--max", type=int)
    args = parser.parse_args()

    if not os.path.exists(args.reference):
        print("SKIPPED: no reference list at " + args.reference)
        return 77
    implemented = read_variants(os.path.join(args.client_dir, "proc_variants.def"))
    requests = read_requests(args.reference)

    def answered(table, name, version):
        return name in table and table[name] <= version

    bases = sorted({name for name, _ in requests})
    # A name is served when at least one of the runtime's requests for it resolves (it asks some names
    # at several versions and uses the newest that resolves).
    served = {n for n, v in requests if answered(implemented, n, v)}
    unsupported = sorted(set(bases) - served)
    print(f"requests {len(requests)}")
    print(f"base names {len(bases)}")
    print(f"implemented {len(bases) - len(unsupported)}")
    print(f"not supported {len(unsupported)}")
    if args.list:
        for name in unsupported:
            print("  " + name)
    if args.max is not None and len(unsupported) > args.max:
        print(f"more than {args.max} unsupported base names", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

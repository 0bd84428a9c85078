"""What the deploy test scripts share: a table of named cases, `expect`, and the runner ctest calls,
one case per run (exit 0 passed, 1 failed with the reason, SKIP skipped: ctest's SKIP_RETURN_CODE)."""
import argparse
import os
import sys
import traceback

SKIP = 77


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


class Cases(dict):
    """Name -> case function; used as a decorator (@case) to register one."""

    def __call__(self, fn):
        self[fn.__name__] = fn
        return fn


def main(doc, cases, invoke, required=(), failures=(AssertionError,)):
    """Runs the case named on the command line as invoke(args, case) and returns the exit code; with
    --listed=A;B;... instead, checks that those are exactly the script's cases.
    --work (a scratch directory, made if absent) and the flags in `required` are parsed into args;
    an exception in `failures` fails the case with its message, any other with its trace."""
    listed = [a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--listed=")]
    if listed:  # ctest's list of cases (tests/deploy/CMakeLists.txt) against the script's own
        wanted = set(filter(None, listed[0].split(";")))
        if wanted == set(cases):
            print(f"PASSED: ctest runs all {len(cases)} cases")
            return 0
        print(f"FAILED: not run by ctest: {sorted(set(cases) - wanted)}; unknown here: {sorted(wanted - set(cases))}")
        return 1
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", required=True, help="scratch directory (the build tree)")
    for flag in required:
        parser.add_argument(flag, required=True)
    parser.add_argument("case", choices=sorted(cases))
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    try:
        result = invoke(args, cases[args.case])
    except failures as e:
        print(f"FAILED {args.case}:\n{e}")
        return 1
    except Exception:  # a bug in the checks themselves is a failure too, with its trace
        traceback.print_exc()
        return 1
    if result == SKIP:
        return SKIP
    print(f"PASSED {args.case}")
    return 0

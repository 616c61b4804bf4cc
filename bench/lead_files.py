"""Reading lead files (campaigns.sources) at 1, 5 and 50 MB: time and peak memory, JSON and CSV.

Each measurement runs in a process of its own (peak resident memory is per process): the file is
generated once into a temporary folder, then read the way a path source is (JSON from its text,
CSV row by row from the open file), counting rows and bad rows. Parsing only, no database.
Time and memory must grow linearly with the size (counting lines from the start of the file for
every JSON item was quadratic: 1 MB 3.7 s, 5 MB 96 s).

    python bench/lead_files.py [--sizes 1,5,50] [--kinds json,csv]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def generate(kind: str, megabytes: int, folder: Path) -> Path:
    """A lead file of about `megabytes` MB, one bad row in a hundred."""
    path = folder / f"leads-{megabytes}mb.{kind}"
    if path.exists():
        return path
    target, n = megabytes * 1024 * 1024, 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(
            '{"meta": {"leads": [1, 2]},\n "leads": [\n'
            if kind == "json"
            else "name,email,phone,tier,score\n"
        )
        written = 0
        while written < target:
            email = f"lead{n}@example.org" if n % 100 else "not-an-email"
            row = {"name": f"Lead {n} Person", "email": email, "phone": f"+97155{n % 10**7:07d}", "tier": "A"}
            if kind == "json":
                line = ("" if n == 0 else ",\n") + "  " + json.dumps({**row, "score": n % 100})
            else:
                line = f"{row['name']},{email},{row['phone']},A,{n % 100}\n"
            out.write(line)
            written += len(line)
            n += 1
        if kind == "json":
            out.write("\n]}\n")
    return path


def measure(path: Path) -> dict:
    """Read one file (in this process) and report rows, seconds and peak memory."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    os.environ.setdefault("DJANGO_DEBUG", "true")
    os.environ.setdefault("LEAD_FILE_MAX_MB", "100")
    import django

    django.setup()
    from campaigns.sources import RowError, read_source

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    good = bad = 0
    with path.open("rb") as stream:
        data = stream if path.suffix == ".csv" else stream.read()
        for result in read_source(file_name=path.name, data=data):
            if isinstance(result, RowError):
                bad += 1
            else:
                good += 1
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "rows": good,
        "bad": bad,
        "seconds": seconds,
        "peak_mb": peak_kb / 1024,
        "grew_mb": (peak_kb - before) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1,5,50", help="file sizes in MB")
    parser.add_argument("--kinds", default="json,csv")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # one file, in a child process
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure))))
        return
    folder = Path(tempfile.gettempdir()) / "crm-bench-lead-files"
    folder.mkdir(exist_ok=True)
    print(f"{'file':<18} {'rows':>9} {'bad':>6} {'seconds':>8} {'s/MB':>6} {'peak MB':>8} {'grew MB':>8}")
    for kind in args.kinds.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            path = generate(kind, size, folder)
            child = subprocess.run(
                [sys.executable, __file__, "--measure", str(path)], capture_output=True, text=True, check=True
            )
            got = json.loads(child.stdout.strip().splitlines()[-1])
            print(
                f"{path.name:<18} {got['rows']:>9,} {got['bad']:>6,} {got['seconds']:>8.2f} "
                f"{got['seconds'] / size:>6.2f} {got['peak_mb']:>8.0f} {got['grew_mb']:>8.0f}"
            )


if __name__ == "__main__":
    main()

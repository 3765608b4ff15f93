#!/usr/bin/env python3
"""The disk's ceiling for the ingest benchmark (e2e/bench-ingest.sh): N files
of SIZE bytes written by C concurrent writers, each fsynced and its directory
synced, as the filesystem blob store does for every recording. No
encryption, no HTTP, no database: what the disk alone allows.

    benches/disk-ceiling.py [dir=/tmp] [count=1000] [concurrency=50] [size=2400044]
"""
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

base = sys.argv[1] if len(sys.argv) > 1 else "/tmp"
count = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
concurrency = int(sys.argv[3]) if len(sys.argv) > 3 else 50
size = int(sys.argv[4]) if len(sys.argv) > 4 else 2_400_044
payload = os.urandom(size)

with tempfile.TemporaryDirectory(dir=base) as work:
    def write(i: int) -> None:
        path = os.path.join(work, f"{i}.bin")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view[:1 << 20]):]
            os.fsync(fd)
        finally:
            os.close(fd)
        dfd = os.open(work, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    start = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(write, range(count)))
    elapsed = time.monotonic() - start
    print(f"disk ceiling in {base}: {count} files of {size / 1e6:.2f} MB, {concurrency} writers, "
          f"fsync each: {count / elapsed:.1f} files/s, {count * size / elapsed / 1e6:.1f} MB/s")

#!/usr/bin/env python3
"""The disk's ceiling for the ingest benchmark (e2e/bench-ingest.sh): N files
of SIZE bytes written by C concurrent writers, each fsynced and its directory
synced, as the filesystem blob store does for every recording. No
encryption, no HTTP, no database: what the disk alone allows. Both ways of
writing are measured side by side, alternating: through the page cache, and
with O_DIRECT in 512 KiB aligned blocks (the tail padded, then truncated),
as the filesystem blob store does where the file system takes O_DIRECT.

    benches/disk-ceiling.py [dir=/tmp] [count=1000] [concurrency=50] [size=2400044] [rounds=2]
"""
import mmap
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

base = sys.argv[1] if len(sys.argv) > 1 else "/tmp"
count = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
concurrency = int(sys.argv[3]) if len(sys.argv) > 3 else 50
size = int(sys.argv[4]) if len(sys.argv) > 4 else 2_400_044
rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 2
payload = os.urandom(size)
BLOCK = 512 * 1024
ALIGN = 4096
# O_DIRECT needs an aligned buffer: an anonymous mapping is page-aligned.
padded = (size + ALIGN - 1) // ALIGN * ALIGN
aligned = mmap.mmap(-1, padded)
aligned[:size] = payload


def sync_dir(work: str) -> None:
    dfd = os.open(work, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def buffered(work: str, i: int) -> None:
    path = os.path.join(work, f"{i}.bin")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view[:1 << 20]):]
        os.fsync(fd)
    finally:
        os.close(fd)
    sync_dir(work)


def direct(work: str, i: int) -> None:
    path = os.path.join(work, f"{i}.bin")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_DIRECT, 0o600)
    try:
        view = memoryview(aligned)
        while view:
            view = view[os.write(fd, view[:BLOCK]):]
        os.ftruncate(fd, size)
        os.fsync(fd)
    finally:
        os.close(fd)
    sync_dir(work)


# The order alternates: on ext4 without a journal, files created just after
# a thousand were deleted cost more (the allocator skips freshly freed inodes).
ways = [("page cache", buffered), ("O_DIRECT", direct)]
for round_ in range(rounds):
    for name, write in ways if round_ % 2 == 0 else ways[::-1]:
        with tempfile.TemporaryDirectory(dir=base) as work:
            cpu = os.times()
            start = time.monotonic()
            with ThreadPoolExecutor(concurrency) as pool:
                list(pool.map(lambda i: write(work, i), range(count)))
            elapsed = time.monotonic() - start
            after = os.times()
            used = (after.user - cpu.user) + (after.system - cpu.system)
            print(f"disk ceiling in {base}, {name}: {count} files of {size / 1e6:.2f} MB, "
                  f"{concurrency} writers, fsync each: {count / elapsed:.1f} files/s, "
                  f"{count * size / elapsed / 1e6:.1f} MB/s, {used / count * 1000:.2f} ms CPU a file")

#!/usr/bin/env python3
"""How fast a process gets memory it has not touched before: malloc, write every byte, free; repeated.

    /usr/bin/python3 deploy/tools/fresh_memory.py                                        # 4 KiB pages
    GLIBC_TUNABLES=glibc.malloc.hugetlb=1 /usr/bin/python3 deploy/tools/fresh_memory.py  # transparent huge pages

Blocks above glibc's mmap threshold come from the kernel fresh each time, so every write to a new page is a page fault;
this is what each new large native buffer costs (docs/performance.md, "Memory that is new to the process"). The same
loop over one block that stays allocated gives the rate of writing memory the process already has.
"""
import ctypes
import time

MB = 1 << 20
SIZE = 75 * MB  # a 3072 x 3072 float64 matrix
REPS = 10

libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.memset.restype = ctypes.c_void_p
libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]


def rate(fresh):
    kept = None if fresh else libc.malloc(SIZE)
    if kept:
        libc.memset(kept, 0, SIZE)  # its first touch, outside the timing
    start = time.perf_counter()
    for i in range(REPS):
        p = libc.malloc(SIZE) if fresh else kept
        libc.memset(p, i + 1, SIZE)
        if fresh:
            libc.free(p)
    seconds = time.perf_counter() - start
    if kept:
        libc.free(kept)
    return REPS * SIZE / MB / seconds


rate(True)  # warm-up
print(f"fresh blocks of {SIZE // MB} MB: {rate(True):,.0f} MB/s; one block written again: {rate(False):,.0f} MB/s")

#!/usr/bin/env python3
"""Count calls into the C library's system-call entry points in a callgrind output file:
`python3 benches/syscalls_from_callgrind.py CALLGRIND_OUT`. Prints `name count` per entry point
called, then `total N`. A call counts once at its entry point (`recv`, `writev`,
`epoll_wait`, `syscall`, ...); only calls from outside the C library are counted, so a wrapper
that calls another is not counted twice."""
import re
import sys

ENTRY = {
    "read", "write", "readv", "writev", "recv", "send", "recvfrom", "sendto", "recvmsg",
    "sendmsg", "recvmmsg", "sendmmsg", "epoll_wait", "epoll_pwait", "epoll_pwait2",
    "epoll_ctl", "accept4", "accept", "syscall", "close", "shutdown", "timerfd_settime",
}

names = {}   # fn id -> name
files = {}   # file id -> name
counts = {}
caller_file = ""
callee = None
callee_file = ""


def name_of(table, field):
    m = re.match(r"\((\d+)\)(?: (.*))?", field)
    if not m:
        return field
    if m.group(2) is not None:
        table[m.group(1)] = m.group(2)
    return table.get(m.group(1), "?")


for line in open(sys.argv[1], errors="replace"):
    line = line.rstrip("\n")
    if line.startswith("fl=") or line.startswith("fi=") or line.startswith("fe="):
        caller_file = name_of(files, line[3:])
    elif line.startswith("fn="):
        name_of(names, line[3:])
    elif line.startswith("cfi=") or line.startswith("cfl="):
        callee_file = name_of(files, line[4:])
    elif line.startswith("cfn="):
        callee = name_of(names, line[4:])
    elif line.startswith("calls=") and callee is not None:
        n = int(line[6:].split()[0])
        in_libc = "libc" in caller_file or caller_file.startswith("./")
        if callee in ENTRY and not in_libc:
            counts[callee] = counts.get(callee, 0) + n
        callee = None

for k in sorted(counts, key=counts.get, reverse=True):
    print(k, counts[k])
print("total", sum(counts.values()))

# The course's "Simple Connectionless Server", ported to Python 3.
# Changes from the slides: print() is a function; the port may be given as the first argument
# (default 11111, as in the course; 0 lets the OS choose), and the bound address is printed so
# that a test can find it; it exits after the number of datagrams given as the second argument
# (default: never).
import sys
from socket import socket, AF_INET, SOCK_DGRAM

port = int(sys.argv[1]) if len(sys.argv) > 1 else 11111
count = int(sys.argv[2]) if len(sys.argv) > 2 else -1
s = socket(AF_INET, SOCK_DGRAM)
s.bind(('127.0.0.1', port))
print("serving on", s.getsockname()[1], flush=True)
while count != 0:
    data, addr = s.recvfrom(1024)
    print("Connection from", addr, flush=True)
    s.sendto(data.upper(), addr)
    count -= 1

# The course's "Simple Connectionless Client", ported to Python 3.
# Changes from the slides: print() is a function, the message is bytes, the server port may be
# given as the first argument (default 11111, as in the course) so tests can use a free port,
# and a timeout keeps a lost datagram from hanging the caller.
import sys
from socket import socket, AF_INET, SOCK_DGRAM

port = int(sys.argv[1]) if len(sys.argv) > 1 else 11111
s = socket(AF_INET, SOCK_DGRAM)
s.bind(('127.0.0.1', 0))  # OS chooses port
print("using", s.getsockname())
server = ('127.0.0.1', port)
s.settimeout(10)
s.sendto(b"MixedCaseString", server)
data, addr = s.recvfrom(1024)
print("received", data, "from", addr)
s.close()

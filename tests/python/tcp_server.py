# The course's TCP server, ported to Python 3 and completed as an echo server ("use socket sock
# to communicate with client process"): it serves one client at a time, echoing until the
# client closes ("Server receives 0 bytes after close()").
# The port may be given as the first argument (default 9999; 0 lets the OS choose); the bound
# port is printed; it exits after the number of clients given as the second argument.
import sys
from socket import socket, AF_INET, SOCK_STREAM

port = int(sys.argv[1]) if len(sys.argv) > 1 else 9999
count = int(sys.argv[2]) if len(sys.argv) > 2 else -1
s = socket(AF_INET, SOCK_STREAM)
s.bind(('127.0.0.1', port))
s.listen(5)  # max queued connections
print("serving on", s.getsockname()[1], flush=True)
while count != 0:
    sock, addr = s.accept()
    sock.settimeout(10)
    while True:
        data = sock.recv(1024)
        if not data:
            break
        sock.sendall(data)
    sock.close()
    count -= 1

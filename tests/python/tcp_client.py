# The course's TCP client, ported to Python 3.
# Changes from the slides: print() is a function, the message is bytes, the server port may be
# given as the first argument (default 9999, as in the course), and a timeout bounds the wait.
import sys
from socket import socket, AF_INET, SOCK_STREAM

HOST = '127.0.0.1'
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9999
s = socket(AF_INET, SOCK_STREAM)
s.settimeout(10)
s.connect((HOST, PORT))
s.send(b'Hello, world')
data = s.recv(1024)
s.close()
print('Received', data)

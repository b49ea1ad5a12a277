//! Sockets as files: `makefile`. `&Socket` reads and writes like a file (`Read`, `Write`)
//! under the socket's timeout, and [`Socket::makefile_reader`] / [`Socket::makefile_writer`]
//! put std's buffering on top, so a line protocol reads with `read_line` / `lines()`.

use std::io::{self, BufReader, BufWriter, Read, Write};

use super::blocking::Socket;

impl Read for &Socket {
    /// `recv_into`, under the timeout (a timeout is a `TimedOut` error, as in Python).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_into(buf)
    }
}

impl Write for &Socket {
    /// `send`, under the timeout.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send(buf)
    }

    /// `sendall`, with one timeout for the whole call.
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.sendall(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for Socket {
    /// As `&Socket`'s (so that an owner, a TLS session, can hold the socket itself).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for Socket {
    /// As `&Socket`'s.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        (&*self).write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The reading half of `makefile("r")`: buffered, `BufRead` (`read_line`, `lines`).
pub type SocketReader<'a> = BufReader<&'a Socket>;

/// The writing half of `makefile("w")`: buffered; `flush` sends what is buffered.
pub type SocketWriter<'a> = BufWriter<&'a Socket>;

impl Socket {
    /// `makefile("r")`: a buffered reader over the socket. Reads honour the socket's
    /// timeout; several readers on one socket would each buffer part of the stream, so
    /// make one.
    pub fn makefile_reader(&self) -> SocketReader<'_> {
        BufReader::new(self)
    }

    /// `makefile("w")`: a buffered writer over the socket; remember to `flush` (dropping
    /// it flushes too, ignoring errors, as std's `BufWriter` does).
    pub fn makefile_writer(&self) -> SocketWriter<'_> {
        BufWriter::new(self)
    }
}

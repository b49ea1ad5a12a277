//! Framing: where one message ends and the next begins, in a TCP byte stream.
//!
//! TCP delivers bytes, not messages: "Hi!" and "Hope you're well" may arrive as one read or as
//! five. An application marks message boundaries itself, most often by putting each message's
//! length in a header. This module is that layer, and nothing else: **bytes in, frames out**,
//! no I/O, no clock, no allocation while decoding.
//!
//! # Formats
//!
//! * [`Format::Length`]: a length field ([`LengthField`]) of 1, 2, 3, 4 or 8 bytes, big or
//!   little endian, at any offset into the header, with a signed adjustment and a number of
//!   header bytes to strip, as tokio-util's `LengthDelimitedCodec` and Netty's
//!   `LengthFieldBasedFrameDecoder` allow. The default is netloop's wire format: a 4-byte
//!   big-endian length of the payload alone, then the payload, at most 8 MiB in all.
//! * [`Format::Varint`]: an unsigned LEB128 length (as protobuf's delimited streams use), then
//!   the payload.
//! * [`Format::Lines`]: text lines ended by `\n`, `\r\n`, or `\n` with an optional `\r`.
//!
//! # How data flows
//!
//! The reactor reads into a connection's buffer; the handler passes the unconsumed bytes to
//! [`Decoder::decode`], which looks at them without copying and answers with one
//! [`Decoded`] step: a frame as a **range into the input** (plus how many bytes the frame took,
//! header included), "incomplete" (keep the bytes, call again when more arrive), or, under the
//! discard policy, "skipped" (an oversize frame starts here: report it) and "discarded" (the
//! end of that frame went by). The caller consumes what the step says and calls again with the
//! rest. Partial frames stay where they are in the read
//! buffer; nothing is copied until the caller decides to.
//!
//! # The maximum frame length, precisely
//!
//! [`LengthField::max_frame`] and the varint `max_frame` bound the **whole frame as it sits on
//! the wire**: header (including any bytes before the length field) plus the adjusted length.
//! With the default format a frame of `max_frame` bytes carries `max_frame - 4` payload bytes.
//! (tokio-util compares the raw length field with its maximum instead, which counts the header
//! or not depending on the adjustment: a known source of confusion.) The check happens as soon
//! as the header is complete, before any payload byte is buffered, so a peer announcing a
//! 4 GiB frame is refused after 4 bytes. For lines, [`Format::Lines`]'s `max_line` bounds the
//! line without its terminator, and a line is known to be too long once `max_line` bytes plus
//! the terminator's length have arrived without a terminator among them.
//!
//! # Too long: fail or discard
//!
//! [`OnTooLong::Fail`] (the default) makes the error final: the decoder returns it now and
//! from then on, and the connection should be closed. [`OnTooLong::Discard`] reports the
//! error once ([`Decoded::Skipped`]), then skips exactly that frame's bytes as they arrive
//! (or, for lines, everything up to the next terminator) without buffering them, and carries
//! on with the next frame, as Netty's discard mode does. Errors that leave the frame's extent
//! unknown (a negative adjusted length, a malformed varint) are always final.
//!
//! # The key property
//!
//! Decoding the same bytes delivered in any chunking gives the same frames and the same error
//! at the same point: every decision depends only on bytes of the stream, never on how much
//! has arrived. The tests check this with proptest and the `decode_chunks` fuzz target checks
//! it with libFuzzer (see `src/check.rs`).
//!
//! # Example
//!
//! ```
//! use netloop::framing::{Codec, Decoded};
//!
//! let codec = Codec::default(); // 4-byte big-endian length, then the payload
//! let mut wire = Vec::new();
//! codec.encode_to_vec(b"Hi!", &mut wire).unwrap();
//! codec.encode_to_vec(b"Hope you're well", &mut wire).unwrap();
//!
//! let mut decoder = codec.decoder().unwrap();
//! let mut input = &wire[..];
//! let mut frames = Vec::new();
//! while let Decoded::Frame { frame, consumed } = decoder.decode(input).unwrap() {
//!     frames.push(&input[frame]);
//!     input = &input[consumed..];
//! }
//! assert_eq!(frames, [&b"Hi!"[..], b"Hope you're well"]);
//! ```

mod codec;
mod decode;
mod error;

pub use codec::{
    Codec, Endian, Envelope, Format, LengthField, LineEnding, OnTooLong, DEFAULT_MAX_FRAME,
    MAX_HEADER,
};
pub use decode::{Decoded, Decoder};
pub use error::{ConfigError, EncodeError, FrameError};

#[cfg(test)]
mod fast_tests;
#[cfg(test)]
mod tests;

//! The decoder: a small state machine over the unconsumed input.
//!
//! ```text
//!            header complete, frame complete ──► Frame (stay Ready)
//!  Ready ──► header incomplete / body incomplete ──► Incomplete (stay Ready)
//!    ▲  ├──► too long, Discard ──► Skipped ──► Skipping { remaining } / SkippingLine
//!    │  │                                        │ Incomplete: bytes consumed as they arrive
//!    │  │                                        └──► last byte of it ──► Discarded ──► Ready
//!    │  └──► too long under Fail, or malformed ──► Failed (every later call: same error)
//! ```
//!
//! `Ready` keeps no state between calls: a partial frame is re-examined from its first byte
//! when more input arrives (the header is a few bytes, so this costs nothing worth a state),
//! which is also why any chunking of the input leads to the same decisions. Each step does one
//! thing: in particular the end of a skipped frame (`Discarded`) is its own step, so that an
//! error in the frame after it is always reported at the start of the input it was found in.

use std::ops::Range;

use super::codec::{Codec, Endian, Format, LengthField, LineEnding, OnTooLong, MAX_VARINT_LEN};
use super::error::{ConfigError, FrameError};

/// One step of decoding (see [`Decoder::decode`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A whole frame: deliver `input[frame]`, then consume `consumed` bytes (the frame with
    /// its header and, for lines, its terminator).
    Frame {
        /// Where the frame's bytes are in the input.
        frame: Range<usize>,
        /// Bytes of input this step used up.
        consumed: usize,
    },
    /// No whole frame yet: consume `consumed` bytes (non-zero only while skipping: the
    /// skipped bytes are never kept), keep the rest, and call again when more input has
    /// arrived.
    Incomplete {
        /// Bytes of input this step used up.
        consumed: usize,
    },
    /// Under [`OnTooLong::Discard`]: the frame at the start of the input is too long. Report
    /// `error` and call again at once (nothing is consumed by this step): the frame's bytes
    /// are then skipped as they arrive.
    Skipped {
        /// Why the frame is skipped.
        error: FrameError,
    },
    /// The last `consumed` bytes of a skipped frame: consume them and call again at once.
    Discarded {
        /// Bytes of input this step used up.
        consumed: usize,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    Ready,
    /// Skipping the rest of an oversize frame of known length.
    Skipping {
        remaining: u64,
    },
    /// Skipping an oversize line up to and including its terminator.
    SkippingLine {
        /// The last byte skipped was `\r` (a `\r\n` terminator may straddle two inputs).
        after_cr: bool,
    },
    Failed(FrameError),
}

/// What the format found at the start of the input.
enum Parse {
    /// The frame is `input[start..end]`; the step uses `consumed` bytes (`end`, plus the
    /// terminator for lines).
    Frame {
        start: usize,
        end: usize,
        consumed: usize,
    },
    Incomplete,
    /// Too long, and how to skip it.
    TooLong {
        error: FrameError,
        skip: Skip,
    },
    /// Malformed: the frame's extent is unknown, so it cannot be skipped.
    Invalid(FrameError),
}

enum Skip {
    Bytes(u64),
    Line,
}

/// Decodes one stream. Keeps only the skip state between calls, never input bytes.
#[derive(Clone, Debug)]
pub struct Decoder {
    codec: Codec,
    state: State,
    /// Lines: bytes of the current partial line already searched for a terminator.
    scanned: usize,
}

impl Codec {
    /// A decoder for one stream.
    ///
    /// # Errors
    ///
    /// As for [`validate`](Codec::validate).
    pub fn decoder(&self) -> Result<Decoder, ConfigError> {
        self.validate()?;
        Ok(Decoder::new_unchecked(*self))
    }
}

impl Decoder {
    pub(super) fn new_unchecked(codec: Codec) -> Decoder {
        Decoder {
            codec,
            state: State::Ready,
            scanned: 0,
        }
    }

    /// The codec this decoder follows.
    pub fn codec(&self) -> &Codec {
        &self.codec
    }

    /// Has a final error happened? (Then every call returns it again.)
    pub fn is_failed(&self) -> bool {
        matches!(self.state, State::Failed(_))
    }

    /// Is the decoder between frames (not in the middle of skipping one)? At the end of a
    /// stream, unconsumed input or a decoder that is not idle means a truncated frame.
    pub fn is_idle(&self) -> bool {
        self.state == State::Ready
    }

    /// The whole length on the wire of the incomplete frame at the front of `input`, once its
    /// header has arrived (length-field codecs, between frames; `None` otherwise). A reactor
    /// uses it to reserve memory for the whole frame at once.
    pub fn pending_frame_len(&self, input: &[u8]) -> Option<usize> {
        match self.state {
            State::Ready => frame_len(&self.codec, input),
            _ => None,
        }
    }

    /// The whole frames at the front of `input`, counted and measured in one pass instead of
    /// handed out one [`decode`](Decoder::decode) call at a time: `(frames, bytes)`. The
    /// decoder's state does not change (whole frames leave it between frames), so the caller
    /// consumes `bytes` and goes on with `decode` for what follows: the first frame that is
    /// incomplete or that `decode` would refuse.
    ///
    /// Only netloop's own format (a 4-byte big-endian body length at the start, no
    /// adjustment) between frames is scanned this way, a handful of instructions per frame;
    /// for any other codec, or mid-skip, it returns `(0, 0)` and `decode` does all the work.
    /// An echo uses it to answer a whole read with one write.
    pub fn scan_whole_frames(&self, input: &[u8]) -> (u64, usize) {
        let Format::Length(f) = &self.codec.format else {
            return (0, 0);
        };
        if !matches!(self.state, State::Ready) || !f.is_plain_be32() {
            return (0, 0);
        }
        // In body lengths (the header's 4 bytes off): the longest a frame may be, and the
        // shortest (a strip past the header needs that much body; 0 otherwise). A valid
        // codec has `max_frame >= 4`.
        let max_body = f.max_frame.saturating_sub(4);
        let min_body = f.strip.saturating_sub(4);
        // The usual codec strips nothing: no lower bound to check on every frame. And the usual
        // input is shorter than the longest frame: a header over the limit then announces a
        // frame that cannot fit in it either, so the scan stops at it without the check (and
        // `decode` reports it), with no upper bound to check on every frame.
        match (min_body == 0, input.len() <= f.max_frame) {
            (true, true) => scan_plain::<false, false>(input, 0, 0),
            (true, false) => scan_plain::<true, false>(input, max_body, 0),
            (false, _) => scan_plain::<true, true>(input, max_body, min_body),
        }
    }

    /// Look at `input`, the stream's unconsumed bytes, and say what comes first.
    ///
    /// Never copies or allocates. After a [`Decoded::Frame`], [`Decoded::Skipped`] or
    /// [`Decoded::Discarded`] the caller consumes what the step says and calls again with the
    /// rest (there may be more frames); after [`Decoded::Incomplete`] it consumes what that
    /// says and calls again when more input has arrived, **with the unconsumed bytes again
    /// at the front** (the decoder may remember how far it has searched them).
    ///
    /// # Errors
    ///
    /// A final [`FrameError`]: the frame is too long under [`OnTooLong::Fail`], or the header
    /// is malformed. The decoder keeps returning it.
    pub fn decode(&mut self, input: &[u8]) -> Result<Decoded, FrameError> {
        match &mut self.state {
            State::Failed(e) => Err(e.clone()),
            State::Skipping { remaining } => {
                let avail = input.len() as u64;
                if avail < *remaining {
                    *remaining -= avail;
                    return Ok(Decoded::Incomplete {
                        consumed: input.len(),
                    });
                }
                // remaining <= avail, which came from a usize.
                let consumed = *remaining as usize;
                self.state = State::Ready;
                Ok(Decoded::Discarded { consumed })
            }
            State::SkippingLine { after_cr } => {
                let ending = match self.codec.format {
                    Format::Lines { ending, .. } => ending,
                    _ => LineEnding::Lf,
                };
                match find_line_end(input, ending, *after_cr) {
                    Some(consumed) => {
                        self.state = State::Ready;
                        Ok(Decoded::Discarded { consumed })
                    }
                    None => {
                        if let Some(&last) = input.last() {
                            *after_cr = last == b'\r';
                        }
                        Ok(Decoded::Incomplete {
                            consumed: input.len(),
                        })
                    }
                }
            }
            State::Ready => match parse(&self.codec, input, &mut self.scanned) {
                Parse::Frame {
                    start,
                    end,
                    consumed,
                } => Ok(Decoded::Frame {
                    frame: start..end,
                    consumed,
                }),
                Parse::Incomplete => Ok(Decoded::Incomplete { consumed: 0 }),
                Parse::TooLong { error, skip } => match self.codec.on_too_long {
                    OnTooLong::Fail => {
                        self.state = State::Failed(error.clone());
                        Err(error)
                    }
                    OnTooLong::Discard => {
                        self.state = match skip {
                            Skip::Bytes(remaining) => State::Skipping { remaining },
                            Skip::Line => State::SkippingLine { after_cr: false },
                        };
                        Ok(Decoded::Skipped { error })
                    }
                },
                Parse::Invalid(error) => {
                    self.state = State::Failed(error.clone());
                    Err(error)
                }
            },
        }
    }
}

/// The whole length on the wire of the frame at the front of `input`, once its header has
/// arrived: for length-field codecs only, and only for a valid length within the maximum.
pub(super) fn frame_len(codec: &Codec, input: &[u8]) -> Option<usize> {
    let Format::Length(f) = codec.format else {
        return None;
    };
    let header = f.header_len();
    if input.len() < header {
        return None;
    }
    let field = read_field(&input[f.offset..header], f.endian);
    let total = header as i128 + i128::from(field) + i128::from(f.adjustment);
    (total >= header as i128 && total <= f.max_frame as i128).then_some(total as usize)
}

fn parse(codec: &Codec, input: &[u8], scanned: &mut usize) -> Parse {
    match codec.format {
        Format::Length(f) => parse_length(&f, input),
        Format::Varint { max_frame } => parse_varint(max_frame, input),
        Format::Lines { ending, max_line } => parse_line(ending, max_line, input, scanned),
    }
}

fn read_field(bytes: &[u8], endian: Endian) -> u64 {
    match endian {
        Endian::Big => bytes.iter().fold(0, |v, &b| (v << 8) | u64::from(b)),
        Endian::Little => bytes.iter().rev().fold(0, |v, &b| (v << 8) | u64::from(b)),
    }
}

fn parse_length(f: &LengthField, input: &[u8]) -> Parse {
    // The common shape, netloop's own wire format: a 4-byte big-endian length at the start,
    // counting the body only. Same answers as the general path below, in fewer steps (no
    // 128-bit arithmetic, no byte-by-byte field).
    if f.is_plain_be32() {
        let Some(&[a, b, c, d]) = input.get(..4) else {
            return Parse::Incomplete;
        };
        return frame_of(
            f,
            4 + u64::from(u32::from_be_bytes([a, b, c, d])),
            input.len(),
        );
    }
    let header = f.header_len();
    if input.len() < header {
        return Parse::Incomplete;
    }
    let field = read_field(&input[f.offset..header], f.endian);
    // i128 holds every combination of a u64 field, an i64 adjustment and a usize header.
    let body = i128::from(field) + i128::from(f.adjustment);
    if body < 0 {
        return Parse::Invalid(FrameError::NegativeLength {
            field,
            adjustment: f.adjustment,
        });
    }
    // Saturated: a total past u64::MAX is past any maximum too.
    let total = u64::try_from(header as i128 + body).unwrap_or(u64::MAX);
    frame_of(f, total, input.len())
}

/// What a frame of `total` bytes on the wire (header included) is, with `available` bytes of
/// input: too long, shorter than what is stripped, incomplete, or whole.
fn frame_of(f: &LengthField, total: u64, available: usize) -> Parse {
    if total > f.max_frame as u64 {
        return Parse::TooLong {
            error: FrameError::TooLong {
                len: total,
                max: f.max_frame,
            },
            skip: Skip::Bytes(total),
        };
    }
    // total <= max_frame, a usize.
    let total = total as usize;
    if f.strip > total {
        return Parse::Invalid(FrameError::StripExceedsFrame {
            strip: f.strip,
            len: total as u64,
        });
    }
    if available < total {
        return Parse::Incomplete;
    }
    Parse::Frame {
        start: f.strip,
        end: total,
        consumed: total,
    }
}

fn parse_varint(max_frame: usize, input: &[u8]) -> Parse {
    let mut value: u64 = 0;
    let mut header = 0;
    for (i, &b) in input.iter().take(MAX_VARINT_LEN).enumerate() {
        if i == MAX_VARINT_LEN - 1 {
            if b & 0x80 != 0 {
                return Parse::Invalid(FrameError::VarintTooLong);
            }
            // The 10th byte carries bit 63 only.
            if b > 1 {
                return Parse::Invalid(FrameError::VarintOverflow);
            }
        }
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            header = i + 1;
            break;
        }
    }
    if header == 0 {
        return Parse::Incomplete;
    }
    let total = header as u128 + u128::from(value);
    let len = u64::try_from(total).unwrap_or(u64::MAX);
    if total > max_frame as u128 {
        return Parse::TooLong {
            error: FrameError::TooLong {
                len,
                max: max_frame,
            },
            skip: Skip::Bytes(len),
        };
    }
    let total = total as usize;
    if input.len() < total {
        return Parse::Incomplete;
    }
    Parse::Frame {
        start: header,
        end: total,
        consumed: total,
    }
}

/// `scanned`: how much of `input` an earlier call already searched without finding a
/// terminator (the caller offers the same bytes again, followed by more), so that a line
/// arriving in many small pieces costs linear, not quadratic, time. Updated on return.
fn parse_line(ending: LineEnding, max_line: usize, input: &[u8], scanned: &mut usize) -> Parse {
    // Only the first max_line + terminator bytes can hold the end of an acceptable line, and
    // deciding on exactly those bytes keeps the decision independent of chunking.
    let window = &input[..input.len().min(max_line.saturating_add(ending.max_len()))];
    let too_long = || Parse::TooLong {
        error: FrameError::LineTooLong { max: max_line },
        skip: Skip::Line,
    };
    let mut from = (*scanned).min(window.len());
    // The decision below is reached on the same bytes whatever `from` is; `from` only skips
    // bytes known to hold no terminator (a lone \n under CrLf is content, and stays skipped).
    *scanned = 0;
    while let Some(p) = memchr(b'\n', &window[from..]) {
        let nl = from + p;
        let cr = nl > 0 && window[nl - 1] == b'\r';
        let content = match ending {
            LineEnding::Lf => nl,
            LineEnding::Any if cr => nl - 1,
            LineEnding::Any => nl,
            LineEnding::CrLf if cr => nl - 1,
            LineEnding::CrLf => {
                // A lone \n is part of the line.
                from = nl + 1;
                continue;
            }
        };
        if content > max_line {
            return too_long();
        }
        return Parse::Frame {
            start: 0,
            end: content,
            consumed: nl + 1,
        };
    }
    if window.len() == max_line.saturating_add(ending.max_len()) {
        return too_long();
    }
    *scanned = window.len();
    Parse::Incomplete
}

/// Bytes up to and including the end of the current line, when skipping (`after_cr`: the
/// byte before `input` was `\r`).
fn find_line_end(input: &[u8], ending: LineEnding, after_cr: bool) -> Option<usize> {
    let mut from = 0;
    while let Some(p) = memchr(b'\n', &input[from..]) {
        let nl = from + p;
        let cr = if nl > 0 {
            input[nl - 1] == b'\r'
        } else {
            after_cr
        };
        if ending != LineEnding::CrLf || cr {
            return Some(nl + 1);
        }
        from = nl + 1;
    }
    None
}

/// Position of the first `needle` in `hay`. (The standard library's slice search compiles to a
/// fast loop; this is not a hot spot for length-prefixed frames.)
fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// The whole frames at the front of `input` in the plain 4-byte big-endian shape (see
/// [`Decoder::scan_whole_frames`]): how many, and where they end. With `MAX`, a frame longer
/// than `max_body` stops the scan; with `MIN`, a frame shorter than `min_body` does.
#[inline(always)]
fn scan_plain<const MAX: bool, const MIN: bool>(
    input: &[u8],
    max_body: usize,
    min_body: usize,
) -> (u64, usize) {
    let mut frames = 0;
    let mut rest = input;
    while let [a, b, c, d, ref body @ ..] = *rest {
        let len = u32::from_be_bytes([a, b, c, d]) as usize;
        // Too long, or shorter than what is stripped: `decode` reports it. Incomplete: more
        // input first.
        if (MAX && len > max_body) || (MIN && len < min_body) {
            break;
        }
        let Some(next) = body.get(len..) else {
            break;
        };
        rest = next;
        frames += 1;
    }
    (frames, input.len() - rest.len())
}

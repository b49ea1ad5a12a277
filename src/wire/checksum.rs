//! The Internet checksum (RFC 1071), which IPv4 headers and ICMP messages carry.

/// The Internet checksum (RFC 1071) of `data`: the ones' complement of the ones' complement
/// sum of its 16-bit big-endian words, an odd last byte padded with a zero byte. A buffer
/// that carries its own correct checksum sums to 0.
///
/// # Examples
///
/// ```
/// // RFC 1071, section 3: the sum of 00 01 f2 03 f4 f5 f6 f7 is ddf2, so the checksum is 220d.
/// assert_eq!(netloop::wire::checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), 0x220d);
/// ```
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        sum += u32::from(*last) << 8;
    }
    // Fold the carries back in (RFC 1071's end-around carry); twice is always enough for a
    // u32 that started below 2^16 * (data.len() / 2 + 1), but loop to be plain about it.
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

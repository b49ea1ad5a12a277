//! The bytes a load generator sends, made so that every echoed byte can be checked without
//! keeping a copy: byte `i` of request `seq` on connection `conn` is a function of the three.

/// Byte `i` of request `seq` on connection `conn`. The first 8 bytes are `seq`
/// (little-endian), so that a reply out of order shows at once; the rest mixes all three.
#[inline]
pub fn byte(conn: u32, seq: u64, i: usize) -> u8 {
    if i < 8 {
        return (seq >> (8 * i)) as u8;
    }
    let x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ seq.rotate_left(17) ^ u64::from(conn);
    (x >> 32) as u8 ^ (x as u8)
}

/// Fill `out` with request `seq` of connection `conn`.
pub fn fill(conn: u32, seq: u64, out: &mut [u8]) {
    for (i, b) in out.iter_mut().enumerate() {
        *b = byte(conn, seq, i);
    }
}

/// A datagram's bytes for the upper-casing service: lower-case letters only (so that the
/// reply, upper-cased, tells the two apart), `seq` in the first 16 (one letter per 4 bits),
/// then letters that depend on all three.
pub fn letter(conn: u32, seq: u64, i: usize) -> u8 {
    if i < 16 {
        return b'a' + ((seq >> (4 * i)) & 0xf) as u8;
    }
    b'a' + byte(conn, seq, i) % 26
}

/// The sequence number in an upper-cased datagram's first 16 bytes, if they are letters.
pub fn seq_of_upper(reply: &[u8]) -> Option<u64> {
    let mut seq = 0u64;
    for (i, &c) in reply.get(..16)?.iter().enumerate() {
        if !(b'A'..=b'P').contains(&c) {
            return None;
        }
        seq |= u64::from(c - b'A') << (4 * i);
    }
    Some(seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_read_back() {
        let mut buf = [0u8; 32];
        fill(3, 0x0102_0304_0506_0708, &mut buf);
        assert_eq!(
            u64::from_le_bytes(buf[..8].try_into().unwrap()),
            0x0102_0304_0506_0708
        );
        let up: Vec<u8> = (0..40)
            .map(|i| letter(1, 12345, i).to_ascii_uppercase())
            .collect();
        assert_eq!(seq_of_upper(&up), Some(12345));
        assert!((0..40).all(|i| letter(9, 77, i).is_ascii_lowercase()));
        assert_eq!(seq_of_upper(b"short"), None);
    }

    #[test]
    fn requests_differ() {
        let a: Vec<u8> = (0..64).map(|i| byte(0, 1, i)).collect();
        let b: Vec<u8> = (0..64).map(|i| byte(0, 2, i)).collect();
        let c: Vec<u8> = (0..64).map(|i| byte(1, 1, i)).collect();
        assert_ne!(a[8..], b[8..]);
        assert_ne!(a[8..], c[8..]);
    }
}

//! The bytes a load generator sends, made so that every echoed byte can be checked without
//! keeping a copy: byte `i` of request `seq` on connection `conn` is a function of the three.

/// A 64-bit mixer (splitmix64's finaliser): every input bit moves every output bit.
#[inline]
fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The 8 bytes at word `w` (bytes `8w..8w+8`) of request `seq` on connection `conn`.
#[inline]
fn word(conn: u32, seq: u64, w: usize) -> u64 {
    if w == 0 {
        return seq;
    }
    mix(seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (u64::from(conn) << 40) ^ w as u64)
}

/// Byte `i` of request `seq` on connection `conn`. The first 8 bytes are `seq`
/// (little-endian), so that a reply out of order shows at once; every later byte depends
/// on all three.
#[inline]
pub fn byte(conn: u32, seq: u64, i: usize) -> u8 {
    word(conn, seq, i / 8).to_le_bytes()[i % 8]
}

/// Bytes `start..start + out.len()` of request `seq` on connection `conn` (one mix per 8
/// bytes: fast enough to check 64 KiB frames).
pub fn fill_at(conn: u32, seq: u64, start: usize, out: &mut [u8]) {
    let mut i = 0;
    while i < out.len() {
        let pos = start + i;
        let bytes = word(conn, seq, pos / 8).to_le_bytes();
        let from = pos % 8;
        let n = (8 - from).min(out.len() - i);
        out[i..i + n].copy_from_slice(&bytes[from..from + n]);
        i += n;
    }
}

/// Fill `out` with request `seq` of connection `conn`.
pub fn fill(conn: u32, seq: u64, out: &mut [u8]) {
    fill_at(conn, seq, 0, out);
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
        let differ = |x: &[u8], y: &[u8]| x.iter().zip(y).filter(|(p, q)| p != q).count();
        assert!(
            differ(&a[8..], &b[8..]) > 40,
            "every byte depends on the request"
        );
        assert!(differ(&a[8..], &c[8..]) > 40, "and on the connection");
        // A range is the same bytes as the whole.
        let mut whole = [0u8; 100];
        fill(5, 9, &mut whole);
        let mut part = [0u8; 37];
        fill_at(5, 9, 13, &mut part);
        assert_eq!(part[..], whole[13..50]);
        assert!((0..100).all(|i| byte(5, 9, i) == whole[i]));
    }
}

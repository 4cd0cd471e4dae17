//! The Block1 and Block2 option values (RFC 7959 section 2.2).
//!
//! coap-lite's `BlockValue` stores the block number in a `u16`, which caps a
//! transfer at 4095 blocks; RFC 7959 allows 20 bits. This type keeps the
//! full range and refuses the reserved size exponent 7 (BERT, RFC 8323, is
//! for reliable transports only).

use thiserror::Error;

/// The largest block number, 2^20 - 1 (RFC 7959 section 2.2).
pub const MAX_NUM: u32 = (1 << 20) - 1;

/// The largest size exponent usable over UDP: 6, i.e. 1024-byte blocks.
pub const MAX_SZX: u8 = 6;

/// A Block1 or Block2 option value: block number, more flag and size
/// exponent (RFC 7959 section 2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockOption {
    /// The block number (NUM), 0 to 2^20 - 1.
    pub num: u32,
    /// The more flag (M).
    pub more: bool,
    /// The size exponent (SZX): the block size is 2^(SZX + 4).
    pub szx: u8,
}

/// Why a Block option value was refused.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum BlockError {
    /// The value is longer than three bytes (RFC 7959 section 2.2).
    #[error("Block option value longer than 3 bytes")]
    TooLong,
    /// SZX 7 is reserved over UDP (RFC 7959 section 2.2, RFC 8323 section 6).
    #[error("Block option uses the reserved size exponent 7")]
    ReservedSzx,
    /// The block number does not fit in 20 bits.
    #[error("block number beyond 2^20 - 1")]
    NumTooLarge,
}

impl BlockOption {
    /// A block option value.
    pub fn new(num: u32, more: bool, szx: u8) -> Result<Self, BlockError> {
        if num > MAX_NUM {
            return Err(BlockError::NumTooLarge);
        }
        if szx > MAX_SZX {
            return Err(BlockError::ReservedSzx);
        }
        Ok(Self { num, more, szx })
    }

    /// Decodes an option value (a uint of 0 to 3 bytes).
    pub fn decode(value: &[u8]) -> Result<Self, BlockError> {
        if value.len() > 3 {
            return Err(BlockError::TooLong);
        }
        let raw = value.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
        let szx = (raw & 0x7) as u8;
        if szx > MAX_SZX {
            return Err(BlockError::ReservedSzx);
        }
        Ok(Self {
            num: raw >> 4,
            more: raw & 0x8 != 0,
            szx,
        })
    }

    /// Encodes the value as a minimal uint.
    pub fn encode(&self) -> Vec<u8> {
        let raw = (self.num << 4) | (u32::from(self.more) << 3) | u32::from(self.szx & 0x7);
        crate::option::encode_uint(raw)
    }

    /// The block size in bytes, 2^(SZX + 4).
    pub const fn size(&self) -> usize {
        size_of_szx(self.szx)
    }

    /// The byte offset of this block in the body, NUM * size.
    pub const fn offset(&self) -> usize {
        self.num as usize * self.size()
    }
}

/// The block size for a size exponent.
pub const fn size_of_szx(szx: u8) -> usize {
    1 << (szx as usize + 4)
}

/// The largest size exponent whose block size does not exceed `size`
/// (16 bytes at least, 1024 at most).
pub fn szx_for_size(size: usize) -> u8 {
    let mut szx = MAX_SZX;
    while szx > 0 && size_of_szx(szx) > size {
        szx -= 1;
    }
    szx
}

/// Cuts block `num` of size `2^(szx+4)` out of `body`. Returns the slice and
/// whether more blocks follow, or `None` if the block starts beyond the body
/// (block 0 of an empty body is the empty block).
pub fn slice(body: &[u8], num: u32, szx: u8) -> Option<(&[u8], bool)> {
    let size = size_of_szx(szx);
    let start = (num as usize).checked_mul(size)?;
    if start > body.len() || (start == body.len() && num > 0) {
        return None;
    }
    let end = start.saturating_add(size).min(body.len());
    Some((&body[start..end], end < body.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_rfc7959_examples() {
        // RFC 7959 section 2.2: 0x1e is NUM 1, M 1, SZX 6 (1024 bytes).
        let b = BlockOption::decode(&[0x1e]).unwrap();
        assert_eq!(
            b,
            BlockOption {
                num: 1,
                more: true,
                szx: 6
            }
        );
        assert_eq!(b.size(), 1024);
        assert_eq!(b.offset(), 1024);
        // An empty value is NUM 0, M 0, SZX 0.
        assert_eq!(
            BlockOption::decode(&[]).unwrap(),
            BlockOption {
                num: 0,
                more: false,
                szx: 0
            }
        );
        // Three bytes carry up to 2^20 - 1.
        let big = BlockOption::decode(&[0xff, 0xff, 0xf6]).unwrap();
        assert_eq!(big.num, MAX_NUM);
    }

    #[test]
    fn refuses_bad_values() {
        assert_eq!(BlockOption::decode(&[1, 2, 3, 4]), Err(BlockError::TooLong));
        assert_eq!(BlockOption::decode(&[0x07]), Err(BlockError::ReservedSzx));
        assert_eq!(
            BlockOption::new(MAX_NUM + 1, false, 0),
            Err(BlockError::NumTooLarge)
        );
        assert_eq!(BlockOption::new(0, false, 7), Err(BlockError::ReservedSzx));
    }

    #[test]
    fn encode_round_trips() {
        for (num, more, szx) in [
            (0, false, 0),
            (0, true, 6),
            (4095, false, 2),
            (MAX_NUM, true, 6),
        ] {
            let b = BlockOption::new(num, more, szx).unwrap();
            assert_eq!(BlockOption::decode(&b.encode()).unwrap(), b);
        }
        assert_eq!(
            BlockOption::new(0, false, 0).unwrap().encode(),
            Vec::<u8>::new()
        );
    }

    #[test]
    fn sizes_and_slices() {
        assert_eq!(szx_for_size(1024), 6);
        assert_eq!(szx_for_size(1152), 6);
        assert_eq!(szx_for_size(1000), 5);
        assert_eq!(szx_for_size(3), 0);
        let body: Vec<u8> = (0..100u8).collect();
        assert_eq!(slice(&body, 0, 2), Some((&body[0..64], true)));
        assert_eq!(slice(&body, 1, 2), Some((&body[64..100], false)));
        assert_eq!(slice(&body, 2, 2), None);
        assert_eq!(slice(&[], 0, 2), Some((&[][..], false)));
        assert_eq!(slice(&body, u32::MAX, 6), None);
    }
}

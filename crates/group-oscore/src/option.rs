//! The OSCORE option value: the compressed COSE_Encrypt0 header (RFC 8613
//! section 6.1, Figure 10) with the Group Flag of RFC 10021 section 4.1.
//!
//! ```text
//!  0 1 2 3 4 5 6 7 <------------- n bytes -------------->
//! +-+-+-+-+-+-+-+-+--------------------------------------
//! |0 0 g|h|k|  n  |       Partial IV (if any) ...
//! +-+-+-+-+-+-+-+-+--------------------------------------
//!  <- 1 byte -> <----- s bytes ------>
//! +------------+----------------------+------------------+
//! | s (if any) | kid context (if any) | kid (if any) ... |
//! +------------+----------------------+------------------+
//! ```
//!
//! Decoding is strict: a set reserved bit, a reserved Partial IV length
//! (6 or 7), a truncated field, bytes after the last announced field, a
//! non-empty value with no flag set, or a Partial IV with a leading zero
//! byte (RFC 8613 section 5: leading zeros SHALL be removed) each make the
//! option malformed.

/// CoAP option number of OSCORE (RFC 8613 section 2).
pub const OSCORE_OPTION: u16 = 9;

/// Mask of the Partial IV length `n`.
const FLAG_N: u8 = 0x07;
/// The 'kid' flag `k`.
const FLAG_K: u8 = 0x08;
/// The 'kid context' flag `h`.
const FLAG_H: u8 = 0x10;
/// The Group Flag (RFC 10021 section 4.1, registered in section 15.1).
const FLAG_GROUP: u8 = 0x20;
/// Bits reserved by RFC 8613 (sixth to eighth least significant bits minus
/// the Group Flag).
const FLAG_RESERVED: u8 = 0xc0;

/// Longest Partial IV: 5 bytes, the 40-bit sequence number space (RFC 8613
/// section 7.2.1).
pub const MAX_PIV_LEN: usize = 5;

/// Why an OSCORE option value is malformed (RFC 8613 section 8.2 step 2:
/// "Failed to decode COSE").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    /// A reserved flag bit is set.
    #[error("reserved OSCORE flag bit set (flags 0x{0:02x})")]
    ReservedBit(u8),
    /// Partial IV length 6 or 7 is reserved.
    #[error("reserved Partial IV length {0}")]
    ReservedPivLength(u8),
    /// The value ends before a field it announces.
    #[error("OSCORE option value truncated")]
    Truncated,
    /// Bytes follow the last announced field.
    #[error("{0} trailing byte(s) in the OSCORE option value")]
    Trailing(usize),
    /// The flag byte is zero but present (the value SHALL then be empty).
    #[error("OSCORE option with all flags zero must be empty")]
    NonEmptyWithoutFlags,
    /// A Partial IV with a leading zero byte.
    #[error("Partial IV not in shortest form")]
    NonMinimalPiv,
    /// A field too long to encode (kid context over 255 bytes, Partial IV
    /// over 5 bytes, or the option over its 255-byte limit).
    #[error("OSCORE option field too long")]
    TooLong,
}

/// The fields carried in the OSCORE option.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct OscoreOption {
    /// The Group Flag: set for Group OSCORE group mode (RFC 10021 section
    /// 4.1), clear for pairwise mode and plain OSCORE.
    pub group_flag: bool,
    /// The Partial IV, 1 to 5 bytes in shortest form.
    pub partial_iv: Option<Vec<u8>>,
    /// The 'kid context' (ID Context, or the Gid in Group OSCORE).
    pub kid_context: Option<Vec<u8>>,
    /// The 'kid' (the sender's Sender ID); may be the empty string.
    pub kid: Option<Vec<u8>>,
}

impl OscoreOption {
    /// Decodes an option value strictly (see the module documentation).
    pub fn decode(value: &[u8]) -> Result<Self, OptionError> {
        let Some((&flags, mut rest)) = value.split_first() else {
            return Ok(Self::default());
        };
        if flags & FLAG_RESERVED != 0 {
            return Err(OptionError::ReservedBit(flags));
        }
        if flags == 0 {
            return Err(OptionError::NonEmptyWithoutFlags);
        }
        let n = flags & FLAG_N;
        if n > MAX_PIV_LEN as u8 {
            return Err(OptionError::ReservedPivLength(n));
        }
        let mut out = Self {
            group_flag: flags & FLAG_GROUP != 0,
            ..Self::default()
        };
        if n > 0 {
            let (piv, tail) = rest
                .split_at_checked(n as usize)
                .ok_or(OptionError::Truncated)?;
            if piv.len() > 1 && piv[0] == 0 {
                return Err(OptionError::NonMinimalPiv);
            }
            out.partial_iv = Some(piv.to_vec());
            rest = tail;
        }
        if flags & FLAG_H != 0 {
            let (&s, tail) = rest.split_first().ok_or(OptionError::Truncated)?;
            let (ctx, tail) = tail
                .split_at_checked(s as usize)
                .ok_or(OptionError::Truncated)?;
            out.kid_context = Some(ctx.to_vec());
            rest = tail;
        }
        if flags & FLAG_K != 0 {
            out.kid = Some(rest.to_vec());
        } else if !rest.is_empty() {
            return Err(OptionError::Trailing(rest.len()));
        }
        Ok(out)
    }

    /// Encodes the option value; empty when no field and no flag is set.
    pub fn encode(&self) -> Result<Vec<u8>, OptionError> {
        let mut flags = 0u8;
        let piv = self.partial_iv.as_deref().unwrap_or_default();
        if piv.len() > MAX_PIV_LEN {
            return Err(OptionError::TooLong);
        }
        flags |= piv.len() as u8;
        if self.kid.is_some() {
            flags |= FLAG_K;
        }
        if self.kid_context.is_some() {
            flags |= FLAG_H;
        }
        if self.group_flag {
            flags |= FLAG_GROUP;
        }
        if flags == 0 {
            return Ok(Vec::new());
        }
        let mut out = Vec::with_capacity(self.encoded_len());
        out.push(flags);
        out.extend_from_slice(piv);
        if let Some(ctx) = &self.kid_context {
            let s = u8::try_from(ctx.len()).map_err(|_| OptionError::TooLong)?;
            out.push(s);
            out.extend_from_slice(ctx);
        }
        if let Some(kid) = &self.kid {
            out.extend_from_slice(kid);
        }
        if out.len() > 255 {
            return Err(OptionError::TooLong);
        }
        Ok(out)
    }

    fn encoded_len(&self) -> usize {
        1 + self.partial_iv.as_ref().map_or(0, Vec::len)
            + self.kid_context.as_ref().map_or(0, |c| 1 + c.len())
            + self.kid.as_ref().map_or(0, Vec::len)
    }
}

/// Encodes a sequence number as a Partial IV: network byte order, leading
/// zero bytes removed, 0 as `0x00` (RFC 8613 section 5).
pub fn encode_piv(seq: u64) -> Vec<u8> {
    let bytes = seq.to_be_bytes();
    let skip = bytes.iter().take(7).take_while(|&&b| b == 0).count();
    bytes[skip..].to_vec()
}

/// The sequence number a Partial IV encodes.
pub fn piv_value(piv: &[u8]) -> u64 {
    piv.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opt(
        group: bool,
        piv: Option<&[u8]>,
        ctx: Option<&[u8]>,
        kid: Option<&[u8]>,
    ) -> OscoreOption {
        OscoreOption {
            group_flag: group,
            partial_iv: piv.map(<[u8]>::to_vec),
            kid_context: ctx.map(<[u8]>::to_vec),
            kid: kid.map(<[u8]>::to_vec),
        }
    }

    #[test]
    fn rfc8613_section_6_3_examples() {
        let cases = [
            (opt(false, Some(&[5]), None, Some(&[0x25])), "090525"),
            (opt(false, Some(&[0]), None, Some(&[])), "0900"),
            (
                opt(
                    false,
                    Some(&[5]),
                    Some(&hex::decode("44616c656b").unwrap()),
                    Some(&[]),
                ),
                "19050544616c656b",
            ),
            (opt(false, None, None, None), ""),
            (opt(false, Some(&[7]), None, None), "0107"),
        ];
        for (o, hexval) in cases {
            assert_eq!(hex::encode(o.encode().unwrap()), hexval);
            assert_eq!(
                OscoreOption::decode(&hex::decode(hexval).unwrap()).unwrap(),
                o
            );
        }
    }

    #[test]
    fn rfc10021_section_4_3_examples() {
        let ctx = hex::decode("44616c").unwrap();
        let cases = [
            (
                opt(true, Some(&[5]), Some(&ctx), Some(&[0x25])),
                "39050344616c25",
            ),
            (opt(true, None, None, Some(&[0x52])), "2852"),
            (
                opt(false, Some(&[5]), Some(&ctx), Some(&[0x25])),
                "19050344616c25",
            ),
            (opt(false, None, None, None), ""),
        ];
        for (o, hexval) in cases {
            assert_eq!(hex::encode(o.encode().unwrap()), hexval);
            assert_eq!(
                OscoreOption::decode(&hex::decode(hexval).unwrap()).unwrap(),
                o
            );
        }
    }

    #[test]
    fn malformed_values_are_refused() {
        assert_eq!(
            OscoreOption::decode(&[0x40]),
            Err(OptionError::ReservedBit(0x40))
        );
        assert_eq!(
            OscoreOption::decode(&[0x89, 1]),
            Err(OptionError::ReservedBit(0x89))
        );
        assert_eq!(
            OscoreOption::decode(&[0x06, 1, 2, 3, 4, 5, 6]),
            Err(OptionError::ReservedPivLength(6))
        );
        assert_eq!(
            OscoreOption::decode(&[0x07]),
            Err(OptionError::ReservedPivLength(7))
        );
        assert_eq!(
            OscoreOption::decode(&[0x02, 1]),
            Err(OptionError::Truncated)
        );
        assert_eq!(
            OscoreOption::decode(&[0x11, 1]),
            Err(OptionError::Truncated)
        );
        assert_eq!(
            OscoreOption::decode(&[0x11, 1, 3, 0xaa]),
            Err(OptionError::Truncated)
        );
        assert_eq!(
            OscoreOption::decode(&[0x01, 1, 0xaa]),
            Err(OptionError::Trailing(1))
        );
        assert_eq!(
            OscoreOption::decode(&[0x00]),
            Err(OptionError::NonEmptyWithoutFlags)
        );
        assert_eq!(
            OscoreOption::decode(&[0x02, 0, 5]),
            Err(OptionError::NonMinimalPiv)
        );
        // A lone 0x00 Partial IV is the shortest form of 0.
        assert!(OscoreOption::decode(&[0x01, 0]).is_ok());
        // The Group Flag alone is a valid (if useless) value.
        assert_eq!(
            OscoreOption::decode(&[0x20]).unwrap(),
            opt(true, None, None, None)
        );
    }

    #[test]
    fn encode_refuses_oversized_fields() {
        assert_eq!(
            opt(false, Some(&[1; 6]), None, None).encode(),
            Err(OptionError::TooLong)
        );
        assert_eq!(
            opt(false, None, Some(&[1; 256]), None).encode(),
            Err(OptionError::TooLong)
        );
        assert_eq!(
            opt(false, None, Some(&[1; 200]), Some(&[2; 60])).encode(),
            Err(OptionError::TooLong)
        );
    }

    #[test]
    fn partial_iv_encoding() {
        assert_eq!(encode_piv(0), [0]);
        assert_eq!(encode_piv(20), [0x14]);
        assert_eq!(encode_piv(256), [1, 0]);
        assert_eq!(encode_piv((1 << 40) - 1), [0xff; 5]);
        for v in [0, 1, 255, 256, 65535, 1 << 39, (1 << 40) - 1] {
            assert_eq!(piv_value(&encode_piv(v)), v);
        }
    }
}

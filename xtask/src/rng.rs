//! A small deterministic PRNG (`SplitMix64`): the same seed gives the same stream on
//! every platform and with every toolchain, which is all the bench site needs.

/// `SplitMix64` (Steele, Lea and Flood), the seeding generator of the xoshiro family.
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    state: u64,
}

impl Rng {
    /// An independent stream for one part of the site, so that changing the size of one
    /// part (e.g. `--docs`) leaves the bytes of the others unchanged.
    pub(crate) fn derive(seed: u64, part: &str) -> Self {
        // FNV-1a of the part name, mixed with the seed.
        let mut hash = 0xcbf2_9ce4_8422_2325_u64;
        for byte in part.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        let mut rng = Self {
            state: seed ^ hash.rotate_left(17),
        };
        rng.next_u64();
        rng
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..bound` (`bound > 0`; the tiny modulo bias does not matter here).
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }

    /// A value in `low..=high`.
    pub(crate) fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    /// An index into a slice of `len` items.
    pub(crate) fn index(&mut self, len: usize) -> usize {
        // `len` fits in u64 and the result is below it, so both conversions are exact.
        usize::try_from(self.below(len as u64)).unwrap_or(0)
    }

    pub(crate) fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.index(items.len())]
    }

    /// True with probability `percent` / 100.
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A value spread evenly on a log scale between `low` and `high`: many small ones,
    /// a few large ones, like the files of a media library.
    pub(crate) fn log_uniform(&mut self, low: u64, high: u64) -> u64 {
        let unit = self.unit();
        let (low_f, high_f) = (to_f64(low).ln(), to_f64(high).ln());
        let value = (low_f + unit * (high_f - low_f)).exp();
        from_f64(value).clamp(low, high)
    }

    /// A float in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        // 53 random bits: exactly representable.
        to_f64(self.next_u64() >> 11) / to_f64(1 << 53)
    }

    /// Fills `buffer` with random bytes.
    pub(crate) fn fill(&mut self, buffer: &mut [u8]) {
        let mut chunks = buffer.chunks_exact_mut(8);
        for chunk in &mut chunks {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        let last = self.next_u64().to_le_bytes();
        rest.copy_from_slice(&last[..rest.len()]);
    }

    /// `len` lowercase hexadecimal digits.
    pub(crate) fn hex(&mut self, len: usize) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        (0..len)
            .map(|_| char::from(DIGITS[self.index(16)]))
            .collect()
    }

    /// `len` characters of URL-safe base64 alphabet.
    pub(crate) fn base64(&mut self, len: usize) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        (0..len)
            .map(|_| char::from(ALPHABET[self.index(64)]))
            .collect()
    }
}

#[expect(
    clippy::cast_precision_loss,
    reason = "sizes and random bits well below 2^53"
)]
fn to_f64(value: u64) -> f64 {
    value as f64
}

#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "a positive value, clamped by the caller"
)]
fn from_f64(value: f64) -> u64 {
    value.round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_stable_and_independent() {
        let mut a = Rng::derive(1, "media");
        let mut b = Rng::derive(1, "media");
        let mut c = Rng::derive(1, "docs");
        let first: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        assert_eq!(first, (0..4).map(|_| b.next_u64()).collect::<Vec<_>>());
        assert_ne!(first, (0..4).map(|_| c.next_u64()).collect::<Vec<_>>());
    }

    #[test]
    fn ranges_hold() {
        let mut rng = Rng::derive(7, "ranges");
        for _ in 0..10_000 {
            let v = rng.between(3, 9);
            assert!((3..=9).contains(&v));
            let s = rng.log_uniform(100, 40_000);
            assert!((100..=40_000).contains(&s));
            assert!((0.0..1.0).contains(&rng.unit()));
        }
        let mut buffer = [0u8; 13];
        rng.fill(&mut buffer);
        assert!(buffer.iter().any(|&b| b != 0));
    }
}

//! How much an archive may hold before a reader refuses it unread (docs/FORMAT.md §13.4).
//! One set of numbers for the reader, which enforces them, and the writer, which never
//! writes an archive that the default limits refuse.

/// Entries smaller than this are never ratio bombs, however well they compress.
pub const RATIO_FLOOR: u64 = 1 << 20;

/// The limits of docs/FORMAT.md §13.4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most central-directory records.
    pub max_entries: u64,
    /// Most decompressed bytes in total.
    pub max_bytes: u64,
    /// Largest decompressed/compressed ratio of an entry over [`RATIO_FLOOR`].
    pub max_ratio: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_entries: 1_000_000,
            max_bytes: 64 << 30,
            max_ratio: 1000,
        }
    }
}

impl Limits {
    /// Whether an entry of `uncompressed` bytes stored in `compressed` bytes exceeds the
    /// ratio limit (`RATIO_EXCEEDED`).
    #[must_use]
    pub fn ratio_exceeded(&self, uncompressed: u64, compressed: u64) -> bool {
        uncompressed > RATIO_FLOOR && uncompressed > compressed.saturating_mul(self.max_ratio)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ratio_limit_applies_over_one_mebibyte_only() {
        let limits = Limits::default();
        let cases = [
            (RATIO_FLOOR, 1, false),
            (RATIO_FLOOR + 1, 1, true),
            (RATIO_FLOOR + 1, RATIO_FLOOR / 1000 + 1, false),
            (10 << 20, 10 << 10, true),
            (10_000_000, 10_000, false),
            (10_000_001, 10_000, true),
            (u64::MAX, u64::MAX / 2, false),
        ];
        for (uncompressed, compressed, exceeded) in cases {
            assert_eq!(
                limits.ratio_exceeded(uncompressed, compressed),
                exceeded,
                "{uncompressed}/{compressed}"
            );
        }
    }
}

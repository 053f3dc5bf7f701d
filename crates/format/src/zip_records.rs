//! The ZIP records an archive is made of (docs/FORMAT.md §3, PKWARE's APPNOTE 6.3):
//! their signatures and fixed lengths, the general-purpose flag bits, the compression
//! methods and the extra fields sitepack knows. Defined once, for the writer that writes
//! them and the reader that parses them.

/// Local file header: precedes each entry's data.
pub const LOCAL_HEADER: &[u8; 4] = b"PK\x03\x04";
/// A local file header's fixed part, before its name and extra field.
pub const LOCAL_HEADER_LEN: usize = 30;

/// Central directory header: one per entry, after all the data.
pub const CENTRAL_HEADER: &[u8; 4] = b"PK\x01\x02";
/// A central directory header's fixed part, before its name, extra field and comment.
pub const CENTRAL_HEADER_LEN: usize = 46;

/// End of central directory record: the last record of every archive.
pub const END_OF_CENTRAL_DIRECTORY: &[u8; 4] = b"PK\x05\x06";
/// The end of central directory record's fixed part, before its comment.
pub const END_OF_CENTRAL_DIRECTORY_LEN: usize = 22;
/// The longest comment the end of central directory record can carry.
pub const MAX_COMMENT_LEN: usize = 65_535;

/// ZIP64 end of central directory record: where the 64-bit counts and offsets are.
pub const ZIP64_END_OF_CENTRAL_DIRECTORY: &[u8; 4] = b"PK\x06\x06";
/// A ZIP64 end of central directory record's length without extensible data (the
/// record's size field counts the bytes after itself: this length minus 12).
pub const ZIP64_END_OF_CENTRAL_DIRECTORY_LEN: usize = 56;

/// ZIP64 end of central directory locator: just before the end of central directory
/// record, it says where the ZIP64 record is.
pub const ZIP64_LOCATOR: &[u8; 4] = b"PK\x06\x07";
/// The ZIP64 end of central directory locator's length.
pub const ZIP64_LOCATOR_LEN: usize = 20;

/// Data descriptor: CRC and sizes after an entry's data (its signature is optional).
pub const DATA_DESCRIPTOR: &[u8; 4] = b"PK\x07\x08";

/// What a 32-bit size or offset field holds when the value is in the ZIP64 extra field
/// (or the ZIP64 end record).
pub const ZIP64_MARKER_32: u32 = u32::MAX;
/// What a 16-bit count or disk field holds when the value is in a ZIP64 field.
pub const ZIP64_MARKER_16: u16 = u16::MAX;

/// Extra field: ZIP64 extended information.
pub const ZIP64_EXTRA_FIELD: u16 = 0x0001;
/// Extra field: Info-ZIP Unicode Path.
pub const UNICODE_PATH_EXTRA_FIELD: u16 = 0x7075;

/// General-purpose flag bit 0: the entry is encrypted.
pub const FLAG_ENCRYPTED: u16 = 1;
/// General-purpose flag bit 3: CRC and sizes follow the data in a data descriptor.
pub const FLAG_DATA_DESCRIPTOR: u16 = 1 << 3;
/// General-purpose flag bit 6: strong encryption.
pub const FLAG_STRONG_ENCRYPTION: u16 = 1 << 6;
/// General-purpose flag bit 11: the name is UTF-8.
pub const FLAG_UTF8: u16 = 1 << 11;
/// General-purpose flag bit 13: the local header's values are masked (central directory
/// encryption).
pub const FLAG_MASKED_HEADER: u16 = 1 << 13;

/// Compression method 0: stored as they are.
pub const METHOD_STORED: u16 = 0;
/// Compression method 8: deflate (RFC 1951).
pub const METHOD_DEFLATED: u16 = 8;
/// Compression method 99: AES encryption, an extension to APPNOTE.
pub const METHOD_AES: u16 = 99;

/// "Version needed to extract" of an entry without ZIP64 fields (2.0: deflate).
pub const VERSION_DEFAULT: u16 = 20;
/// "Version needed to extract" of an entry or end record with ZIP64 fields (4.5).
pub const VERSION_ZIP64: u16 = 45;
/// The host of "version made by" (its upper byte) that says the external attributes
/// carry a Unix mode.
pub const HOST_UNIX: u16 = 3;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_pk_and_their_record_numbers() {
        // APPNOTE writes each signature as a little-endian 32-bit number.
        let table = [
            (LOCAL_HEADER, 0x0403_4b50u32),
            (CENTRAL_HEADER, 0x0201_4b50),
            (END_OF_CENTRAL_DIRECTORY, 0x0605_4b50),
            (ZIP64_END_OF_CENTRAL_DIRECTORY, 0x0606_4b50),
            (ZIP64_LOCATOR, 0x0706_4b50),
            (DATA_DESCRIPTOR, 0x0807_4b50),
        ];
        for (signature, number) in table {
            assert_eq!(*signature, number.to_le_bytes(), "{number:#010x}");
        }
    }

    #[test]
    fn flag_bits_and_methods_are_appnotes() {
        let bits = [
            (FLAG_ENCRYPTED, 0),
            (FLAG_DATA_DESCRIPTOR, 3),
            (FLAG_STRONG_ENCRYPTION, 6),
            (FLAG_UTF8, 11),
            (FLAG_MASKED_HEADER, 13),
        ];
        for (flag, bit) in bits {
            assert_eq!(flag, 1 << bit, "bit {bit}");
        }
        assert_eq!([METHOD_STORED, METHOD_DEFLATED, METHOD_AES], [0, 8, 99]);
        let lengths = [
            LOCAL_HEADER_LEN,
            CENTRAL_HEADER_LEN,
            END_OF_CENTRAL_DIRECTORY_LEN,
            ZIP64_END_OF_CENTRAL_DIRECTORY_LEN,
            ZIP64_LOCATOR_LEN,
        ];
        assert_eq!(lengths, [30, 46, 22, 56, 20]);
    }
}

//! Well-known credential shapes (docs/FORMAT.md §13.9): found in any archived bytes, by
//! the writer (which refuses the secret ones) and the reader (which warns about all).

use std::ops::Range;
use std::sync::LazyLock;

use regex::bytes::Regex;

/// One credential shape.
struct Shape {
    /// What it is, for messages (`a PEM private key`).
    name: &'static str,
    /// A byte regular expression, ASCII only; group `v` is the credential itself (what
    /// an allowed value is compared with), else the whole match.
    pattern: &'static str,
    /// The match is itself a secret: `create` refuses it. Otherwise (an identifier that
    /// is not secret by itself) readers only warn.
    secret: bool,
    /// The match is a PEM header: the credential is the whole block, through the
    /// matching `-----END` line when one ends within [`MAX_PEM_BLOCK`] bytes.
    pem: bool,
}

const SHAPES: &[Shape] = &[
    Shape {
        name: "a PEM private key",
        pattern: r"-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY-----",
        secret: true,
        pem: true,
    },
    Shape {
        name: "a Stripe live secret key",
        pattern: r"(?P<v>[sr]k_live_[0-9A-Za-z]{10,})",
        secret: true,
        pem: false,
    },
    Shape {
        name: "an AWS secret access key",
        pattern: r#"(?i:aws_?secret_?(?:access_?)?key)["']?[ \t]*[:=][ \t]*["']?(?P<v>[A-Za-z0-9/+]{40,})"#,
        secret: true,
        pem: false,
    },
    Shape {
        name: "a GitHub token",
        pattern: r"(?P<v>gh[pousr]_[0-9A-Za-z]{36,}|github_pat_[0-9A-Za-z_]{22,})",
        secret: true,
        pem: false,
    },
    Shape {
        name: "a Slack token",
        pattern: r"(?P<v>xox[abprs]-[0-9A-Za-z-]{10,})",
        secret: true,
        pem: false,
    },
    Shape {
        name: "an age secret key",
        pattern: r"(?P<v>(?i:AGE-SECRET-KEY-1[0-9A-Z]{58}))",
        secret: true,
        pem: false,
    },
    Shape {
        name: "an AWS access key id",
        pattern: r"(?-u:\b)(?P<v>AKIA[0-9A-Z]{16})(?-u:\b)",
        secret: false,
        pem: false,
    },
];

/// Values published as examples in vendors' documentation: never credentials.
pub const DOCUMENTED_EXAMPLE_CREDENTIALS: &[&str] = &[
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
];

/// The longest PEM block whose end is looked for: longer than the private key of an
/// 8192-bit RSA key in PEM (about 6.5 KB).
pub const MAX_PEM_BLOCK: usize = 16 * 1024;

/// Bytes of one chunk kept in front of the next, so that a shape split across chunks is
/// still seen (longer than any shape's longest practical match). A PEM header whose
/// block has not ended yet is kept too, up to [`MAX_PEM_BLOCK`] bytes.
const OVERLAP: usize = 256;

static ANY_SHAPE: LazyLock<Regex> = LazyLock::new(|| {
    let alternation: Vec<String> = SHAPES
        .iter()
        .map(|s| format!("(?:{})", s.pattern.replace("?P<v>", "")))
        .collect();
    #[expect(clippy::expect_used, reason = "constant patterns, covered by tests")]
    Regex::new(&alternation.join("|")).expect("credential patterns compile")
});

static EACH_SHAPE: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    #[expect(clippy::expect_used, reason = "constant patterns, covered by tests")]
    SHAPES
        .iter()
        .map(|s| Regex::new(&format!("^(?:{})", s.pattern)).expect("credential pattern compiles"))
        .collect()
});

/// A credential shape found in some bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialMatch {
    /// What it is (`a PEM private key`): safe to print, unlike the match.
    pub shape: &'static str,
    /// Whether the match is itself a secret (`create` refuses it).
    pub secret: bool,
    /// Byte offset of the match in what was searched.
    pub offset: usize,
    /// The credential (to compare with allowed values); never to be printed.
    pub value: Vec<u8>,
}

/// Whether `bytes` may hold a credential shape: when not, [`find_credentials`] finds
/// none (a cheaper question, for the many strings that hold none).
#[must_use]
pub fn may_hold_credential(bytes: &[u8]) -> bool {
    ANY_SHAPE_HERE.with(|shapes| shapes.is_match(bytes))
}

thread_local! {
    /// Each thread's own [`ANY_SHAPE`] (sharing its compiled form): threads searching with
    /// one regex take turns at the pool of search state it keeps, which cost a backup
    /// reading tables side by side more than the searches themselves.
    static ANY_SHAPE_HERE: Regex = ANY_SHAPE.clone();
}

/// Every credential shape in `bytes`, in order of offset.
#[must_use]
pub fn find_credentials(bytes: &[u8]) -> Vec<CredentialMatch> {
    scan(bytes)
        .into_iter()
        .map(|(shape, offset, value)| CredentialMatch {
            shape: shape.name,
            secret: shape.secret,
            offset,
            value: bytes[value].to_vec(),
        })
        .collect()
}

/// Each shape found, with where its match starts and where its credential is: group `v`,
/// else the whole match; for a PEM header, the whole block when its end follows.
fn scan(bytes: &[u8]) -> Vec<(&'static Shape, usize, Range<usize>)> {
    let mut found = Vec::new();
    for candidate in ANY_SHAPE.find_iter(bytes) {
        let start = candidate.start();
        let rest = &bytes[start..];
        for (shape, each) in SHAPES.iter().zip(EACH_SHAPE.iter()) {
            if let Some(captures) = each.captures(rest)
                && let Some(v) = captures.name("v").or_else(|| captures.get(0))
            {
                let end = if shape.pem {
                    pem_block_end(rest, v.end()).unwrap_or(v.end())
                } else {
                    v.end()
                };
                found.push((shape, start, start + v.start()..start + end));
            }
        }
    }
    found
}

/// What starts a PEM footer.
const PEM_END: &[u8] = b"-----END ";

/// Where the PEM block whose header is `block[..header_end]` ends: just after the first
/// `-----END ` line if it names the header's label (`-----END RSA PRIVATE KEY-----`) and
/// ends within [`MAX_PEM_BLOCK`] bytes of the block's start.
fn pem_block_end(block: &[u8], header_end: usize) -> Option<usize> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    const END: &[u8] = PEM_END;
    let label = block.get(BEGIN.len()..header_end)?;
    let within = &block[..block.len().min(MAX_PEM_BLOCK)];
    let footer = header_end
        + within
            .get(header_end..)?
            .windows(END.len())
            .position(|w| w == END)?;
    let after = footer + END.len();
    within
        .get(after..after + label.len())
        .is_some_and(|l| l == label)
        .then_some(after + label.len())
}

/// Why `value`, a `secrets.allow` value, may not be allowed, if it may not: one that
/// holds a PEM private key header must be exactly one whole PEM block (header through
/// footer, as written), or allowing it would allow every key with that header.
pub(crate) fn allowed_value_problem(value: &str) -> Option<&'static str> {
    let bytes = value.as_bytes();
    let (_, _, credential) = scan(bytes).into_iter().find(|(shape, ..)| shape.pem)?;
    // A PEM credential reaches a footer only when it is a whole block.
    let whole_block =
        credential == (0..bytes.len()) && bytes.windows(PEM_END.len()).any(|w| w == PEM_END);
    (!whole_block).then_some(
        "it holds a PEM private key header but is not one whole PEM block (its -----BEGIN line through its -----END line, exactly as written, nothing before or after); allowing a header alone would allow every key of that kind",
    )
}

/// What a masked credential is replaced with in messages.
pub const CREDENTIAL_MASK: &str = "…";

/// `text` with the credential of every secret credential shape in it (the shape's group
/// `v`, else the whole match) replaced by [`CREDENTIAL_MASK`]: for file names, JSON
/// pointers and messages that name where a credential is without repeating it.
#[must_use]
pub fn mask_credentials(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for (shape, _, value) in scan(bytes) {
        if shape.secret {
            ranges.push((value.start, value.end));
        }
    }
    ranges.sort_unstable();
    let mut masked = String::with_capacity(text.len());
    let mut done = 0;
    for (start, end) in ranges {
        // Patterns are ASCII, so every range starts and ends on a character boundary.
        if end <= done {
            continue;
        }
        let start = start.max(done);
        masked.push_str(&text[done..start]);
        masked.push_str(CREDENTIAL_MASK);
        done = end;
    }
    masked.push_str(&text[done..]);
    masked
}

/// `text` with the user info of every `scheme://user[:secret]@host` in it replaced by
/// `…`: a storage URL or endpoint written with a key in it is never repeated.
#[must_use]
pub fn mask_url_user_info(text: &str) -> String {
    let mut masked = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        masked.push_str(head);
        let authority_end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || c == '`')
            .unwrap_or(tail.len());
        if let Some(user_end) = tail[..authority_end].rfind('@') {
            masked.push_str(CREDENTIAL_MASK);
            rest = &tail[user_end..];
        } else {
            rest = tail;
        }
    }
    masked.push_str(rest);
    masked
}

/// A credential shape found in a stream, with its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialInStream {
    /// The match.
    pub found: CredentialMatch,
    /// 1-based line (counting `\n`) where it starts.
    pub line: usize,
}

/// Streams bytes past [`find_credentials`], a chunk at a time, finding shapes that
/// straddle chunk boundaries too.
#[derive(Debug, Default)]
pub struct CredentialScanner {
    /// The last bytes seen, scanned again in front of the next chunk.
    tail: Vec<u8>,
    /// Offset (in the whole stream) of `tail`'s first byte.
    tail_offset: usize,
    /// `\n` before `tail`.
    lines_before_tail: usize,
    /// Where the next new match must start (matches before it were already reported).
    reported_up_to: usize,
    found: Vec<CredentialInStream>,
}

impl CredentialScanner {
    /// Scans the next chunk.
    pub fn feed(&mut self, chunk: &[u8]) {
        let mut window = std::mem::take(&mut self.tail);
        window.extend_from_slice(chunk);
        // The end of a match that runs to the window's end may still grow: only matches
        // starting before the kept tail are final. A PEM header without its footer yet
        // may still become a whole block, if it started less than a block ago.
        let mut dropped = window.len() - window.len().min(OVERLAP);
        for (shape, start, value) in scan(&window) {
            let header_only = !window[value.clone()]
                .windows(PEM_END.len())
                .any(|w| w == PEM_END);
            if shape.pem && header_only && window.len() - start < MAX_PEM_BLOCK {
                dropped = dropped.min(start);
            }
            let offset = self.tail_offset + start;
            if offset < self.reported_up_to {
                continue;
            }
            let line = self.lines_before_tail + 1 + count_newlines(&window[..start]);
            self.found.push(CredentialInStream {
                found: CredentialMatch {
                    shape: shape.name,
                    secret: shape.secret,
                    offset,
                    value: window[value].to_vec(),
                },
                line,
            });
        }
        self.lines_before_tail += count_newlines(&window[..dropped]);
        self.tail_offset += dropped;
        self.reported_up_to = self.reported_up_to.max(self.tail_offset);
        self.found.retain(|f| f.found.offset < self.reported_up_to);
        window.drain(..dropped);
        self.tail = window;
    }

    /// Everything found, in order of offset.
    #[must_use]
    pub fn finish(mut self) -> Vec<CredentialInStream> {
        let tail = std::mem::take(&mut self.tail);
        let (offset, lines) = (self.tail_offset, self.lines_before_tail);
        for found in find_credentials(&tail) {
            let at = offset + found.offset;
            if at >= self.reported_up_to {
                let line = lines + 1 + count_newlines(&tail[..found.offset]);
                self.found.push(CredentialInStream {
                    found: CredentialMatch {
                        offset: at,
                        ..found
                    },
                    line,
                });
            }
        }
        self.found
    }
}

#[expect(
    clippy::naive_bytecount,
    reason = "once per chunk or match: not worth a dependency"
)]
fn count_newlines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shapes(bytes: &[u8]) -> Vec<&'static str> {
        find_credentials(bytes)
            .into_iter()
            .map(|f| f.shape)
            .collect()
    }

    #[test]
    fn each_shape_and_what_it_is_not() {
        let aws_secret = "aws_secret_access_key = abcdEFGHijklMNOPqrstUVWXyz0123456789/+AB";
        let table: &[(&str, &[&str])] = &[
            ("xx AKIAABCDEFGHIJKLMNOP yy", &["an AWS access key id"]),
            ("xAKIAABCDEFGHIJKLMNOP", &[]),
            ("AKIAABCDEFGHIJKLMNOPQ", &[]),
            (
                "-----BEGIN OPENSSH PRIVATE KEY-----",
                &["a PEM private key"],
            ),
            ("-----BEGIN PRIVATE KEY-----", &["a PEM private key"]),
            ("-----BEGIN PUBLIC KEY-----", &[]),
            ("sk_live_0123456789", &["a Stripe live secret key"]),
            ("rk_live_0123456789abc", &["a Stripe live secret key"]),
            ("sk_live_012345678", &[]),
            ("sk_test_0123456789abcdef", &[]),
            (aws_secret, &["an AWS secret access key"]),
            (
                "AWS_SECRET_ACCESS_KEY=\"abcdEFGHijklMNOPqrstUVWXyz0123456789/+AB\"",
                &["an AWS secret access key"],
            ),
            ("aws_secret_key: abcdEFGH", &[]),
            (
                "ghp_0123456789abcdefghijABCDEFGHIJ012345",
                &["a GitHub token"],
            ),
            ("github_pat_0123456789abcdefghij_AB", &["a GitHub token"]),
            ("ghp_0123456789", &[]),
            ("xoxb-1234567890-abc", &["a Slack token"]),
            ("xoxp-123", &[]),
            (
                "AGE-SECRET-KEY-1TQ46USMQ9UNCMQHGRGU25H277LNU7R3G370LVYU605CYY4L9PW3QSYZHVT",
                &["an age secret key"],
            ),
            (
                "age-secret-key-1tq46usmq9uncmqhgrgu25h277lnu7r3g370lvyu605cyy4l9pw3qsyzhvt",
                &["an age secret key"],
            ),
            (
                "AGE-SECRET-KEY-1TQ46USMQ9UNCMQHGRGU25H277LNU7R3G370LVYU605CYY4L9PW3QSYZHV",
                &[],
            ),
            (
                "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
                &[],
            ),
        ];
        for (text, want) in table {
            assert_eq!(shapes(text.as_bytes()), *want, "{text}");
        }
        let found = find_credentials(aws_secret.as_bytes());
        assert_eq!(found[0].value, b"abcdEFGHijklMNOPqrstUVWXyz0123456789/+AB");
        assert!(found[0].secret);
        assert!(!find_credentials(b"AKIAABCDEFGHIJKLMNOP")[0].secret);
        assert_eq!(find_credentials(b"ab sk_live_0123456789")[0].offset, 3);
    }

    const PEM_A: &str =
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----";

    #[test]
    fn a_pem_credential_is_its_whole_block() {
        let text = format!("key = \"{PEM_A}\"\nrest");
        let found = find_credentials(text.as_bytes());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].value, PEM_A.as_bytes());
        assert_eq!(found[0].offset, 7);
        // CRLF and an encrypted key's headers are part of the block as written.
        let crlf = "-----BEGIN RSA PRIVATE KEY-----\r\nProc-Type: 4,ENCRYPTED\r\nDEK-Info: AES-128-CBC,AB\r\n\r\nMIIE\r\n-----END RSA PRIVATE KEY-----";
        assert_eq!(find_credentials(crlf.as_bytes())[0].value, crlf.as_bytes());
        // Without its own footer (none, another label's, or too far) only the header.
        let header = b"-----BEGIN EC PRIVATE KEY-----";
        for text in [
            "-----BEGIN EC PRIVATE KEY-----\nMHc".to_owned(),
            "-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END PRIVATE KEY-----".to_owned(),
            "-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END RSA PRIVATE KEY-----\n-----END EC PRIVATE KEY-----".to_owned(),
            format!(
                "-----BEGIN EC PRIVATE KEY-----\n{}\n-----END EC PRIVATE KEY-----",
                "A".repeat(MAX_PEM_BLOCK)
            ),
        ] {
            assert_eq!(find_credentials(text.as_bytes())[0].value, header, "{text:.80}");
        }
        let two = format!("{PEM_A}\n{}", PEM_A.replace("MIIE", "XXXX"));
        let values: Vec<Vec<u8>> = find_credentials(two.as_bytes())
            .into_iter()
            .map(|f| f.value)
            .collect();
        assert_eq!(
            values,
            [PEM_A.to_owned(), PEM_A.replace("MIIE", "XXXX")].map(String::into_bytes)
        );
        assert_eq!(mask_credentials(&format!("a {PEM_A} b")), "a … b");
    }

    #[test]
    fn aws_and_github_credentials_run_to_their_end() {
        let aws = "aws_secret_access_key = abcdEFGHijklMNOPqrstUVWXyz0123456789/+ABMORE";
        assert_eq!(
            find_credentials(aws.as_bytes())[0].value,
            b"abcdEFGHijklMNOPqrstUVWXyz0123456789/+ABMORE"
        );
        let github = "ghp_0123456789abcdefghijABCDEFGHIJ012345MORE";
        assert_eq!(
            find_credentials(github.as_bytes())[0].value,
            github.as_bytes()
        );
    }

    #[test]
    fn an_allowed_value_with_a_pem_header_must_be_one_whole_block() {
        assert_eq!(allowed_value_problem(PEM_A), None);
        assert_eq!(allowed_value_problem("sk_live_TestFixture0042"), None);
        for bad in [
            "-----BEGIN PRIVATE KEY-----".to_owned(),
            "-----BEGIN RSA PRIVATE KEY-----\nMIIE".to_owned(),
            format!("{PEM_A}\n"),
            format!(" {PEM_A}"),
        ] {
            assert!(allowed_value_problem(&bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn masking_hides_every_secret_credential_and_keeps_the_rest() {
        let table: &[(&str, &str)] = &[
            ("files/sk_live_ABCDEFGHIJ0123456789.txt", "files/….txt"),
            ("/sk_live_KEYNAMESECRET99", "/…"),
            (
                "a ghp_0123456789abcdefghijABCDEFGHIJ012345 b xoxb-1234567890-abc c",
                "a … b … c",
            ),
            (
                "aws_secret_access_key=abcdEFGHijklMNOPqrstUVWXyz0123456789/+AB!",
                "aws_secret_access_key=…!",
            ),
            ("k -----BEGIN PRIVATE KEY----- x", "k … x"),
            ("ünï sk_live_0123456789 ö", "ünï … ö"),
            (
                "AKIAABCDEFGHIJKLMNOP sk_test_0123456789",
                "AKIAABCDEFGHIJKLMNOP sk_test_0123456789",
            ),
            ("", ""),
        ];
        for (text, want) in table {
            assert_eq!(mask_credentials(text), *want, "{text}");
        }
    }

    #[test]
    fn the_scanner_reports_a_pem_header_without_its_block_once() {
        let header = "-----BEGIN EC PRIVATE KEY-----";
        let mut text = format!("{header}\n{}\n", "A".repeat(MAX_PEM_BLOCK + 100));
        text.push_str("sk_live_0123456789abcdef\n-----END EC PRIVATE KEY-----\n");
        for size in [257, 4096, 20_000, text.len()] {
            let mut scanner = CredentialScanner::default();
            for chunk in text.as_bytes().chunks(size) {
                scanner.feed(chunk);
            }
            let found: Vec<(&str, usize, usize)> = scanner
                .finish()
                .into_iter()
                .map(|f| (f.found.shape, f.found.offset, f.found.value.len()))
                .collect();
            assert_eq!(
                found,
                [
                    ("a PEM private key", 0, header.len()),
                    (
                        "a Stripe live secret key",
                        header.len() + MAX_PEM_BLOCK + 102,
                        24
                    ),
                ],
                "chunks of {size}"
            );
        }
    }

    #[test]
    fn the_scanner_finds_shapes_across_chunks_once_with_their_line() {
        let mut text = b"one\ntwo ".to_vec();
        text.extend_from_slice(&[b'x'; 300]);
        text.extend_from_slice(b"\nthree sk_live_0123456789abcdef\n");
        text.extend_from_slice(&[b'\n'; 600]);
        text.extend_from_slice(b"ghp_0123456789abcdefghijABCDEFGHIJ012345 end\n");
        // A PEM block longer than a chunk is still found whole.
        let body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n".repeat(40);
        let pem = format!("-----BEGIN PRIVATE KEY-----\n{body}-----END PRIVATE KEY-----");
        text.extend_from_slice(pem.as_bytes());
        for size in [1, 5, 64, 255, 256, 257, 1000, 4096, text.len()] {
            let mut scanner = CredentialScanner::default();
            for chunk in text.chunks(size) {
                scanner.feed(chunk);
            }
            let found: Vec<(&str, usize, usize, usize)> = scanner
                .finish()
                .into_iter()
                .map(|f| (f.found.shape, f.line, f.found.offset, f.found.value.len()))
                .collect();
            assert_eq!(
                found,
                [
                    ("a Stripe live secret key", 3, 315, 24),
                    ("a GitHub token", 604, 940, 40),
                    ("a PEM private key", 605, 985, pem.len()),
                ],
                "chunks of {size}"
            );
        }
    }

    #[test]
    fn user_info_in_urls_is_masked() {
        let cases = [
            ("s3://AKID:Secr3t@bkt/p/x.zip", "s3://…@bkt/p/x.zip"),
            (
                "validating s3://user:HUNTER2@bkt/p: bad",
                "validating s3://…@bkt/p: bad",
            ),
            (
                "`file://u:pw@localhost/x` and http://k@h:9/ too",
                "`file://…@localhost/x` and http://…@h:9/ too",
            ),
            ("s3://bkt/p/a@b.zip", "s3://bkt/p/a@b.zip"),
            ("no url here", "no url here"),
        ];
        for (text, expected) in cases {
            assert_eq!(mask_url_user_info(text), expected, "{text}");
        }
    }
}

//! Text from archives, stores and logs made safe for a terminal.

/// The text with control characters escaped, so that a label, an object name or a log
/// line cannot move the cursor or recolour the terminal.
pub(crate) fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

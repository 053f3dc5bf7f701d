//! Words, names and dates for the generated site: enough variety that the JSON and the
//! logs compress like real ones, not like a repeated line.

use std::fmt::Write as _;

use crate::rng::Rng;

pub(crate) const FIRST_NAMES: &[&str] = &[
    "ada", "alan", "amara", "ana", "arjun", "bea", "boris", "chen", "clara", "dario", "elif",
    "emma", "farid", "grace", "hana", "ines", "ivan", "jonas", "kai", "karin", "lars", "leila",
    "liam", "lucia", "mateo", "maya", "mina", "nadia", "noah", "olga", "omar", "priya", "rafael",
    "rosa", "sami", "sofia", "tariq", "tomas", "uma", "vera", "wen", "yusuf", "zara", "zoe",
];

pub(crate) const LAST_NAMES: &[&str] = &[
    "abbott",
    "alvarez",
    "bauer",
    "becker",
    "chowdhury",
    "costa",
    "dubois",
    "eriksson",
    "fischer",
    "garcia",
    "haddad",
    "hoffmann",
    "ito",
    "jensen",
    "kaya",
    "kowalski",
    "larsen",
    "lopez",
    "moreau",
    "murphy",
    "nakamura",
    "novak",
    "okafor",
    "olsen",
    "park",
    "petrov",
    "quinn",
    "rossi",
    "sato",
    "schmidt",
    "silva",
    "singh",
    "tanaka",
    "torres",
    "varga",
    "wagner",
    "weber",
    "yilmaz",
    "zhang",
    "ziegler",
];

pub(crate) const WORDS: &[&str] = &[
    "account",
    "action",
    "address",
    "agenda",
    "agreement",
    "analysis",
    "approval",
    "archive",
    "audit",
    "backlog",
    "balance",
    "batch",
    "billing",
    "board",
    "budget",
    "bundle",
    "calendar",
    "campaign",
    "catalog",
    "change",
    "channel",
    "checkout",
    "client",
    "contract",
    "cost",
    "customer",
    "dashboard",
    "deadline",
    "delivery",
    "demand",
    "deposit",
    "design",
    "discount",
    "draft",
    "entry",
    "estimate",
    "event",
    "export",
    "feedback",
    "filter",
    "forecast",
    "form",
    "goal",
    "guide",
    "import",
    "incident",
    "inventory",
    "invoice",
    "issue",
    "item",
    "label",
    "launch",
    "ledger",
    "lead",
    "license",
    "list",
    "margin",
    "market",
    "meeting",
    "member",
    "message",
    "milestone",
    "note",
    "offer",
    "onboarding",
    "order",
    "owner",
    "package",
    "partner",
    "payment",
    "pipeline",
    "plan",
    "policy",
    "portal",
    "price",
    "priority",
    "process",
    "product",
    "profile",
    "project",
    "proposal",
    "purchase",
    "quality",
    "quote",
    "rate",
    "record",
    "refund",
    "region",
    "release",
    "renewal",
    "report",
    "request",
    "review",
    "revenue",
    "risk",
    "roadmap",
    "sale",
    "schedule",
    "segment",
    "service",
    "shipment",
    "signal",
    "sprint",
    "staff",
    "status",
    "stock",
    "strategy",
    "supplier",
    "support",
    "survey",
    "target",
    "task",
    "team",
    "template",
    "ticket",
    "timeline",
    "trend",
    "update",
    "usage",
    "vendor",
    "version",
    "warehouse",
    "workflow",
    "the",
    "the",
    "the",
    "a",
    "a",
    "of",
    "of",
    "to",
    "to",
    "and",
    "and",
    "for",
    "with",
    "in",
    "on",
    "by",
    "from",
    "is",
    "was",
    "will",
    "should",
    "can",
    "new",
    "next",
    "last",
    "weekly",
    "monthly",
    "quarterly",
    "open",
    "closed",
    "pending",
    "shared",
    "internal",
    "external",
    "urgent",
    "minor",
    "main",
    "early",
    "late",
    "final",
    "first",
    "second",
    "third",
];

pub(crate) const CITIES: &[&str] = &[
    "Amsterdam",
    "Barcelona",
    "Berlin",
    "Bogotá",
    "Cairo",
    "Chicago",
    "Dublin",
    "Helsinki",
    "Istanbul",
    "Kraków",
    "Lagos",
    "Lisbon",
    "Lyon",
    "Madrid",
    "Melbourne",
    "Montréal",
    "Mumbai",
    "Nairobi",
    "Osaka",
    "Oslo",
    "Porto",
    "Prague",
    "Seoul",
    "São Paulo",
    "Tallinn",
    "Toronto",
    "Vienna",
    "Warsaw",
    "Zürich",
];

pub(crate) const TAGS: &[&str] = &[
    "internal",
    "customer",
    "billing",
    "onboarding",
    "howto",
    "policy",
    "q1",
    "q2",
    "q3",
    "q4",
    "draft",
    "archived",
    "priority",
    "legal",
    "sales",
    "support",
    "engineering",
    "marketing",
    "finance",
    "ops",
];

pub(crate) const PRODUCTS: &[&str] = &[
    "adapter", "backpack", "bottle", "cable", "chair", "charger", "desk", "drill", "headset",
    "helmet", "jacket", "kettle", "keyboard", "lamp", "monitor", "mouse", "notebook", "pen",
    "printer", "router", "scanner", "shelf", "speaker", "tablet", "tent", "umbrella", "watch",
];

pub(crate) const COLORS: &[&str] = &[
    "black", "white", "grey", "blue", "green", "red", "orange", "navy", "olive", "sand",
];

/// `count` words of running text.
pub(crate) fn words(rng: &mut Rng, count: u64) -> String {
    let mut out = String::new();
    for i in 0..count {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(rng.pick(WORDS));
    }
    out
}

/// A sentence of 6 to 18 words, capitalized, with a full stop.
pub(crate) fn sentence(rng: &mut Rng) -> String {
    let count = rng.between(6, 18);
    let mut text = words(rng, count);
    if let Some(first) = text.get(..1) {
        let upper = first.to_ascii_uppercase();
        text.replace_range(..1, &upper);
    }
    text.push('.');
    text
}

/// `sentences` sentences.
pub(crate) fn paragraph(rng: &mut Rng, sentences: u64) -> String {
    let mut out = String::new();
    for i in 0..sentences {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&sentence(rng));
    }
    out
}

/// A short title: 2 to 6 words, capitalized.
pub(crate) fn title(rng: &mut Rng) -> String {
    let count = rng.between(2, 6);
    let mut out = String::new();
    for i in 0..count {
        if i > 0 {
            out.push(' ');
        }
        let word = rng.pick(WORDS);
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out
}

/// A lowercase slug of 2 to 4 words.
pub(crate) fn slug(rng: &mut Rng) -> String {
    let count = rng.between(2, 4);
    let parts: Vec<&str> = (0..count).map(|_| rng.pick(WORDS)).collect();
    parts.join("-")
}

/// A person's display name.
pub(crate) fn person(rng: &mut Rng) -> (String, String) {
    (
        capitalize(rng.pick(FIRST_NAMES)),
        capitalize(rng.pick(LAST_NAMES)),
    )
}

pub(crate) fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// Seconds since 1970 of 2023-01-01T00:00:00Z: generated dates fall in 2023–2025.
pub(crate) const EPOCH_2023: u64 = 1_672_531_200;
pub(crate) const THREE_YEARS: u64 = 3 * 365 * 86_400;

/// A random time in 2023–2025, as seconds since 1970.
pub(crate) fn time_in_range(rng: &mut Rng) -> u64 {
    EPOCH_2023 + rng.below(THREE_YEARS)
}

/// RFC 3339 in UTC, e.g. `2024-05-17T08:31:02Z`.
pub(crate) fn rfc3339(seconds: u64) -> String {
    let mut out = String::with_capacity(20);
    push_rfc3339(&mut out, seconds, false);
    out
}

/// Appends RFC 3339 (optionally with milliseconds taken from the seconds' low bits).
pub(crate) fn push_rfc3339(out: &mut String, seconds: u64, millis: bool) {
    let (year, month, day) = civil_from_days(seconds / 86_400);
    let rest = seconds % 86_400;
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    );
    if millis {
        let _ = write!(out, ".{:03}", seconds.wrapping_mul(7919) % 1000);
    }
    out.push('Z');
}

/// `(year, month, day)` of a day number since 1970-01-01 (Howard Hinnant's algorithm,
/// for days after 1970).
pub(crate) fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(EPOCH_2023), "2023-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_709_210_096), "2024-02-29T12:34:56Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn text_shapes() {
        let mut rng = Rng::derive(3, "text");
        let s = sentence(&mut rng);
        assert!(s.ends_with('.') && s.starts_with(|c: char| c.is_ascii_uppercase()));
        assert!(slug(&mut rng).split('-').count() >= 2);
        assert_eq!(capitalize("élan"), "Élan");
    }
}

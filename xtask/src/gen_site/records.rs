//! Module collections: JSON Lines records with unique ids, each owned by an existing user
//! through `user_id` (the default owner field).

use anyhow::Result;
use serde_json::{Value, json};

use super::Tree;
use super::text;
use crate::rng::Rng;

#[derive(Debug, Clone, Copy)]
enum Kind {
    Contact,
    Company,
    Deal,
    Activity,
    Note,
    Order,
    OrderLine,
    Item,
    Movement,
    Ticket,
    Message,
    Task,
    Event,
}

struct Collection {
    module: &'static str,
    name: &'static str,
    /// Prefix of string ids; `None` for integer ids.
    prefix: Option<&'static str>,
    /// Share of all records.
    weight: u64,
    kind: Kind,
}

#[rustfmt::skip]
const COLLECTIONS: &[Collection] = &[
    Collection { module: "crm", name: "contacts", prefix: Some("ct"), weight: 12, kind: Kind::Contact },
    Collection { module: "crm", name: "companies", prefix: Some("co"), weight: 4, kind: Kind::Company },
    Collection { module: "crm", name: "deals", prefix: Some("deal"), weight: 6, kind: Kind::Deal },
    Collection { module: "crm", name: "activities", prefix: None, weight: 10, kind: Kind::Activity },
    Collection { module: "notes", name: "notes", prefix: Some("note"), weight: 8, kind: Kind::Note },
    Collection { module: "orders", name: "orders", prefix: Some("ord"), weight: 12, kind: Kind::Order },
    Collection { module: "orders", name: "order_lines", prefix: None, weight: 14, kind: Kind::OrderLine },
    Collection { module: "inventory", name: "items", prefix: Some("sku"), weight: 5, kind: Kind::Item },
    Collection { module: "inventory", name: "movements", prefix: None, weight: 9, kind: Kind::Movement },
    Collection { module: "tickets", name: "tickets", prefix: Some("tkt"), weight: 6, kind: Kind::Ticket },
    Collection { module: "tickets", name: "messages", prefix: None, weight: 8, kind: Kind::Message },
    Collection { module: "projects", name: "tasks", prefix: Some("task"), weight: 4, kind: Kind::Task },
    Collection { module: "calendar", name: "events", prefix: Some("evt"), weight: 2, kind: Kind::Event },
];

/// Writes `total` records spread over the collections by weight.
pub(super) fn write(tree: &mut Tree, rng: &mut Rng, total: u64, users: &[String]) -> Result<()> {
    let weights: u64 = COLLECTIONS.iter().map(|c| c.weight).sum();
    let mut left = total;
    for (index, collection) in COLLECTIONS.iter().enumerate() {
        let count = if index + 1 == COLLECTIONS.len() {
            left
        } else {
            (total * collection.weight / weights).min(left)
        };
        left -= count;
        let mut data = Vec::with_capacity(usize::try_from(count * 320).unwrap_or(0));
        for n in 1..=count {
            let id = collection
                .prefix
                .map_or_else(|| json!(n), |prefix| json!(format!("{prefix}-{n:07}")));
            let user = users[rng.index(users.len())].as_str();
            let record = record(collection.kind, rng, &id, user, n);
            serde_json::to_writer(&mut data, &record)?;
            data.push(b'\n');
        }
        tree.write(
            &format!("modules/{}/{}.jsonl", collection.module, collection.name),
            &data,
        )?;
    }
    Ok(())
}

fn money(rng: &mut Rng, low: u64, high: u64) -> Value {
    // Whole cents, printed as a decimal number.
    let cents = rng.between(low * 100, high * 100);
    json!(f64::from(u32::try_from(cents).unwrap_or(u32::MAX)) / 100.0)
}

#[expect(
    clippy::too_many_lines,
    reason = "one arm per collection, read side by side"
)]
fn record(kind: Kind, rng: &mut Rng, id: &Value, user: &str, n: u64) -> Value {
    let created = text::time_in_range(rng);
    let at = text::rfc3339(created);
    let updated = text::rfc3339(created + rng.below(90 * 86_400));
    match kind {
        Kind::Contact => {
            let (first, last) = text::person(rng);
            json!({
                "id": id, "user_id": user, "created_at": at, "updated_at": updated,
                "first_name": first, "last_name": last,
                "email": format!("{}.{}{}@customer.example", first.to_lowercase(), last.to_lowercase(), n % 97),
                "phone": format!("+{} {} {}", rng.between(1, 99), rng.between(100, 999), rng.between(100_000, 9_999_999)),
                "company_id": format!("co-{:07}", rng.between(1, 5000)),
                "city": rng.pick(text::CITIES),
                "tags": [rng.pick(text::TAGS), rng.pick(text::TAGS)],
                "consent": {"newsletter": rng.chance(40), "since": at},
            })
        }
        Kind::Company => json!({
            "id": id, "user_id": user, "created_at": at,
            "name": format!("{} {}", text::capitalize(rng.pick(text::LAST_NAMES)), rng.pick(&["GmbH", "Ltd", "SA", "Inc", "BV", "AB"])),
            "industry": rng.pick(&["retail", "logistics", "software", "health", "education", "manufacturing"]),
            "employees": rng.between(2, 5000),
            "address": {"city": rng.pick(text::CITIES), "street": format!("{} {}", text::title(rng), rng.between(1, 200))},
            "website": format!("https://{}.example", rng.pick(text::LAST_NAMES)),
        }),
        Kind::Deal => json!({
            "id": id, "user_id": user, "created_at": at, "updated_at": updated,
            "title": text::title(rng),
            "stage": rng.pick(&["lead", "qualified", "proposal", "negotiation", "won", "lost"]),
            "amount": money(rng, 100, 50_000), "currency": "EUR",
            "contact_id": format!("ct-{:07}", rng.between(1, 6000)),
            "expected_close": text::rfc3339(created + rng.below(180 * 86_400)),
            "probability": rng.below(101),
        }),
        Kind::Activity => json!({
            "id": id, "user_id": user, "at": at,
            "type": rng.pick(&["call", "email", "meeting", "note"]),
            "contact_id": format!("ct-{:07}", rng.between(1, 6000)),
            "summary": text::sentence(rng),
            "duration_minutes": rng.between(1, 90),
        }),
        Kind::Note => {
            let sentences = rng.between(1, 6);
            json!({
                "id": id, "user_id": user, "created_at": at, "updated_at": updated,
                "title": text::title(rng),
                "body": text::paragraph(rng, sentences),
                "pinned": rng.chance(5),
                "tags": [rng.pick(text::TAGS)],
            })
        }
        Kind::Order => {
            let mut order = json!({
                "id": id, "user_id": user, "created_at": at, "updated_at": updated,
                "number": format!("SO-{n:08}"),
                "status": rng.pick(&["new", "paid", "shipped", "delivered", "cancelled", "refunded"]),
                "customer": {"contact_id": format!("ct-{:07}", rng.between(1, 6000)), "city": rng.pick(text::CITIES)},
                "total": money(rng, 5, 2_000), "currency": "EUR",
                "shipping": {"method": rng.pick(&["standard", "express", "pickup"]), "tracking": format!("TRK{}", rng.hex(12).to_uppercase())},
                "lines": rng.between(1, 8),
            });
            if rng.chance(2)
                && let Some(object) = order.as_object_mut()
            {
                // A payment token left on a few records: the writer removes it.
                object.insert(
                    "payment_token".into(),
                    json!(format!("tok_{}", rng.base64(24))),
                );
            }
            order
        }
        Kind::OrderLine => json!({
            "id": id, "user_id": user,
            "order_id": format!("ord-{:07}", rng.between(1, 6000)),
            "sku": format!("sku-{:07}", rng.between(1, 2500)),
            "description": format!("{} {}", text::capitalize(rng.pick(text::COLORS)), rng.pick(text::PRODUCTS)),
            "quantity": rng.between(1, 12), "unit_price": money(rng, 2, 400), "tax_rate": rng.pick(&["0.19", "0.07", "0.00"]),
        }),
        Kind::Item => json!({
            "id": id, "user_id": user, "created_at": at,
            "name": format!("{} {} {}", text::capitalize(rng.pick(text::COLORS)), rng.pick(text::PRODUCTS), rng.between(1, 9)),
            "price": money(rng, 2, 900), "currency": "EUR",
            "stock": rng.below(500), "reorder_level": rng.between(5, 50),
            "dimensions": {"w": rng.between(1, 120), "h": rng.between(1, 120), "d": rng.between(1, 120), "unit": "cm"},
            "weight_g": rng.between(10, 25_000),
            "warehouse": rng.pick(&["BER-1", "LIS-2", "TOR-1"]),
        }),
        Kind::Movement => json!({
            "id": id, "user_id": user, "at": at,
            "sku": format!("sku-{:07}", rng.between(1, 2500)),
            "delta": i64::try_from(rng.below(40)).unwrap_or(0) - 20,
            "reason": rng.pick(&["sale", "restock", "return", "correction", "transfer"]),
            "warehouse": rng.pick(&["BER-1", "LIS-2", "TOR-1"]),
        }),
        Kind::Ticket => json!({
            "id": id, "user_id": user, "created_at": at, "updated_at": updated,
            "subject": text::sentence(rng),
            "status": rng.pick(&["open", "pending", "solved", "closed"]),
            "priority": rng.pick(&["low", "normal", "high", "urgent"]),
            "requester": {"contact_id": format!("ct-{:07}", rng.between(1, 6000)), "channel": rng.pick(&["email", "chat", "phone", "web"])},
            "tags": [rng.pick(text::TAGS), rng.pick(text::TAGS)],
            "sla": {"first_response_minutes": rng.between(5, 600), "breached": rng.chance(8)},
        }),
        Kind::Message => {
            let sentences = rng.between(1, 5);
            json!({
                "id": id, "user_id": user, "at": at,
                "ticket_id": format!("tkt-{:07}", rng.between(1, 3000)),
                "direction": rng.pick(&["inbound", "outbound"]),
                "body": text::paragraph(rng, sentences),
            })
        }
        Kind::Task => json!({
            "id": id, "user_id": user, "created_at": at, "updated_at": updated,
            "title": text::title(rng),
            "project": text::slug(rng),
            "status": rng.pick(&["todo", "doing", "review", "done"]),
            "estimate_hours": rng.between(1, 40),
            "due": text::rfc3339(created + rng.below(60 * 86_400)),
            "checklist": [{"text": text::sentence(rng), "done": rng.chance(50)}, {"text": text::sentence(rng), "done": rng.chance(50)}],
        }),
        Kind::Event => json!({
            "id": id, "user_id": user, "created_at": at,
            "title": text::title(rng),
            "starts_at": updated,
            "duration_minutes": ([15, 30, 60, 90][rng.index(4)]),
            "location": rng.pick(text::CITIES),
            "attendees": rng.between(1, 12),
            "recurring": rng.chance(20),
        }),
    }
}

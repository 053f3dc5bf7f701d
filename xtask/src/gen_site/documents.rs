//! The many small JSON documents of a site (0.5–4 KB each, nested): wiki pages, invoices,
//! forms, dashboards, templates, campaigns and saved views as module documents, and JSON
//! reports under `files/data/`.

use anyhow::Result;
use serde_json::{Value, json};

use super::Tree;
use super::text;
use crate::rng::Rng;

/// Where a kind of document lives and how it is built.
struct DocKind {
    /// `modules/<module>/<stem>-NNNNNN.json`, or `None` for reports under `files/data/`.
    module: Option<&'static str>,
    stem: &'static str,
    /// Share of all documents, in percent (the shares add up to 100).
    share: u64,
    build: fn(&mut Rng, &str, &[String]) -> Value,
}

const KINDS: &[DocKind] = &[
    DocKind {
        module: Some("wiki"),
        stem: "page",
        share: 28,
        build: wiki_page,
    },
    DocKind {
        module: Some("orders"),
        stem: "invoice",
        share: 15,
        build: invoice,
    },
    DocKind {
        module: Some("forms"),
        stem: "form",
        share: 9,
        build: form,
    },
    DocKind {
        module: Some("dashboards"),
        stem: "dashboard",
        share: 7,
        build: dashboard,
    },
    DocKind {
        module: Some("templates"),
        stem: "template",
        share: 9,
        build: template,
    },
    DocKind {
        module: Some("marketing"),
        stem: "campaign",
        share: 7,
        build: campaign,
    },
    DocKind {
        module: Some("crm"),
        stem: "view",
        share: 5,
        build: saved_view,
    },
    DocKind {
        module: Some("projects"),
        stem: "board",
        share: 5,
        build: board,
    },
    DocKind {
        module: None,
        stem: "report",
        share: 15,
        build: report,
    },
];

/// Writes `total` documents, spread over the kinds by share.
pub(super) fn write(tree: &mut Tree, rng: &mut Rng, total: u64, users: &[String]) -> Result<()> {
    let mut left = total;
    for (index, kind) in KINDS.iter().enumerate() {
        let count = if index + 1 == KINDS.len() {
            left
        } else {
            (total * kind.share / 100).min(left)
        };
        left -= count;
        for n in 1..=count {
            let id = format!("{}-{n:06}", kind.stem);
            let value = (kind.build)(rng, &id, users);
            let path = if let Some(module) = kind.module {
                format!("modules/{module}/{id}.json")
            } else {
                let day = text::time_in_range(rng) / 86_400;
                let (year, month, _) = text::civil_from_days(day);
                format!("files/data/reports/{year}/{month:02}/{id}.json")
            };
            tree.write_json(&path, &value)?;
        }
    }
    // One settings document per module, as module documents usually include.
    for module in [
        "crm",
        "notes",
        "orders",
        "inventory",
        "tickets",
        "projects",
        "calendar",
        "wiki",
        "forms",
        "dashboards",
        "templates",
        "marketing",
    ] {
        let value = json!({
            "module": module,
            "enabled": true,
            "version": format!("{}.{}.{}", rng.between(1, 4), rng.below(20), rng.below(10)),
            "default_view": text::slug(rng),
            "page_size": ([25, 50, 100][rng.index(3)]),
            "permissions": {"read": ["viewer", "editor", "manager"], "write": ["editor", "manager"]},
        });
        tree.write_json(&format!("modules/{module}/config.json"), &value)?;
    }
    Ok(())
}

fn user<'a>(rng: &mut Rng, users: &'a [String]) -> &'a str {
    &users[rng.index(users.len())]
}

/// How many parts a document has: mostly a few, sometimes many.
fn parts(rng: &mut Rng, most: u64) -> u64 {
    rng.log_uniform(1, most)
}

fn wiki_page(rng: &mut Rng, id: &str, users: &[String]) -> Value {
    let created = text::time_in_range(rng);
    let blocks: Vec<Value> = (0..parts(rng, 12))
        .map(|_| match rng.below(10) {
            0 | 1 => json!({"type": "heading", "level": rng.between(2, 3), "text": text::title(rng)}),
            2 => json!({"type": "list", "ordered": rng.chance(30), "items": (0..rng.between(2, 5)).map(|_| text::sentence(rng)).collect::<Vec<_>>()}),
            3 => json!({"type": "code", "language": rng.pick(&["json", "sql", "bash"]), "text": format!("SELECT * FROM {} WHERE id = {};", rng.pick(text::WORDS), rng.below(10_000))}),
            _ => {
                let sentences = rng.between(1, 4);
                json!({"type": "paragraph", "text": text::paragraph(rng, sentences)})
            }
        })
        .collect();
    json!({
        "id": id,
        "title": text::title(rng),
        "slug": text::slug(rng),
        "author_id": user(rng, users),
        "status": rng.pick(&["published", "published", "draft", "archived"]),
        "created_at": text::rfc3339(created),
        "updated_at": text::rfc3339(created + rng.below(200 * 86_400)),
        "tags": [rng.pick(text::TAGS), rng.pick(text::TAGS)],
        "blocks": blocks,
        "revisions": (0..rng.between(1, 4)).map(|i| json!({"number": i + 1, "by": user(rng, users), "at": text::rfc3339(created + i * 3600)})).collect::<Vec<_>>(),
    })
}

fn invoice(rng: &mut Rng, id: &str, users: &[String]) -> Value {
    let issued = text::time_in_range(rng);
    let lines: Vec<Value> = (0..parts(rng, 14))
        .map(|_| {
            let quantity = rng.between(1, 10);
            let cents = rng.between(100, 40_000);
            json!({
                "sku": format!("sku-{:07}", rng.between(1, 2500)),
                "description": format!("{} {}", text::capitalize(rng.pick(text::COLORS)), rng.pick(text::PRODUCTS)),
                "quantity": quantity,
                "unit_price_cents": cents,
                "total_cents": quantity * cents,
            })
        })
        .collect();
    let total: u64 = lines.iter().filter_map(|l| l["total_cents"].as_u64()).sum();
    let (first, last) = text::person(rng);
    json!({
        "id": id,
        "number": format!("INV-{}", id.trim_start_matches("invoice-")),
        "owner_id": user(rng, users),
        "issued_at": text::rfc3339(issued),
        "due_at": text::rfc3339(issued + 30 * 86_400),
        "status": rng.pick(&["draft", "sent", "paid", "overdue"]),
        "bill_to": {"name": format!("{first} {last}"), "city": rng.pick(text::CITIES), "vat_id": format!("DE{}", rng.between(100_000_000, 999_999_999))},
        "currency": "EUR",
        "lines": lines,
        "totals": {"net_cents": total, "tax_cents": total * 19 / 100, "gross_cents": total * 119 / 100},
        "notes": text::sentence(rng),
    })
}

fn form(rng: &mut Rng, id: &str, users: &[String]) -> Value {
    let fields: Vec<Value> = (0..parts(rng, 12))
        .map(|_| {
            let kind = rng.pick(&[
                "text", "email", "number", "select", "checkbox", "date", "textarea",
            ]);
            let mut field = json!({
                "name": text::slug(rng).replace('-', "_"),
                "label": text::title(rng),
                "type": kind,
                "required": rng.chance(40),
                "help": text::sentence(rng),
            });
            if kind == "select" {
                field["options"] = (0..rng.between(2, 6))
                    .map(|_| json!(text::title(rng)))
                    .collect();
            }
            field
        })
        .collect();
    let mut settings = json!({
        "notify": [format!("{}@bench.example", user(rng, users))],
        "redirect_url": format!("https://bench.example/{}", text::slug(rng)),
        "captcha": rng.chance(50),
    });
    if rng.chance(5) {
        // A webhook secret in a few forms: the writer removes it.
        settings["webhook_secret"] = json!(rng.base64(32));
    }
    json!({
        "id": id,
        "title": text::title(rng),
        "owner_id": user(rng, users),
        "created_at": text::rfc3339(text::time_in_range(rng)),
        "fields": fields,
        "settings": settings,
    })
}

fn dashboard(rng: &mut Rng, id: &str, users: &[String]) -> Value {
    let widgets: Vec<Value> = (0..parts(rng, 10))
        .map(|i| {
            json!({
                "type": rng.pick(&["chart", "table", "number", "list"]),
                "title": text::title(rng),
                "query": {
                    "collection": rng.pick(&["orders", "deals", "tickets", "movements"]),
                    "filters": [{"field": "status", "op": "in", "value": [rng.pick(&["new", "open", "paid"]), rng.pick(&["won", "closed"])]}],
                    "group_by": rng.pick(&["month", "user_id", "status"]),
                    "metric": rng.pick(&["count", "sum:total", "avg:amount"]),
                },
                "layout": {"x": (i % 3) * 4, "y": (i / 3) * 3, "w": 4, "h": 3},
            })
        })
        .collect();
    json!({
        "id": id,
        "title": text::title(rng),
        "owner_id": user(rng, users),
        "shared_with": [rng.pick(&["role:manager", "role:admin", "role:viewer"])],
        "refresh_seconds": ([60, 300, 900][rng.index(3)]),
        "widgets": widgets,
    })
}

fn template(rng: &mut Rng, id: &str, users: &[String]) -> Value {
    let paragraphs: Vec<String> = (0..parts(rng, 6))
        .map(|_| {
            let sentences = rng.between(1, 4);
            format!("<p>{}</p>", text::paragraph(rng, sentences))
        })
        .collect();
    json!({
        "id": id,
        "name": text::title(rng),
        "owner_id": user(rng, users),
        "channel": rng.pick(&["email", "sms", "letter"]),
        "locale": rng.pick(&["en-GB", "de-DE", "fr-FR"]),
        "subject": text::sentence(rng),
        "body_html": paragraphs.concat(),
        "variables": ["customer.first_name", "order.number", "order.total", "site.url"],
        "layout": "modules/templates/layouts/base.html",
    })
}

fn campaign(rng: &mut Rng, id: &str, users: &[String]) -> Value {
    let start = text::time_in_range(rng);
    let rules: Vec<Value> = (0..parts(rng, 6))
        .map(|_| json!({"field": rng.pick(&["city", "tags", "consent.newsletter", "orders.count"]), "op": rng.pick(&["eq", "in", "gt"]), "value": rng.pick(text::CITIES)}))
        .collect();
    let sent = rng.between(100, 50_000);
    json!({
        "id": id,
        "name": text::title(rng),
        "owner_id": user(rng, users),
        "status": rng.pick(&["draft", "scheduled", "running", "finished"]),
        "audience": {"match": "all", "rules": rules},
        "schedule": {"start": text::rfc3339(start), "end": text::rfc3339(start + 14 * 86_400)},
        "content": {"template_id": format!("template-{:06}", rng.between(1, 1800)), "subject": text::sentence(rng)},
        "stats": {"sent": sent, "opened": rng.below(sent), "clicked": rng.below(sent / 4 + 1), "unsubscribed": rng.below(50)},
    })
}

fn saved_view(rng: &mut Rng, id: &str, users: &[String]) -> Value {
    let columns: Vec<Value> = (0..rng.between(3, 10))
        .map(|_| json!({"field": text::slug(rng).replace('-', "_"), "width": rng.between(60, 300), "visible": rng.chance(85)}))
        .collect();
    json!({
        "id": id,
        "name": text::title(rng),
        "owner_id": user(rng, users),
        "collection": rng.pick(&["contacts", "companies", "deals", "activities"]),
        "filters": (0..parts(rng, 5)).map(|_| json!({"field": rng.pick(&["stage", "city", "tags"]), "op": "eq", "value": rng.pick(text::TAGS)})).collect::<Vec<_>>(),
        "sort": [{"field": "updated_at", "direction": "desc"}],
        "columns": columns,
    })
}

fn board(rng: &mut Rng, id: &str, users: &[String]) -> Value {
    let lanes: Vec<Value> = ["todo", "doing", "review", "done"]
        .iter()
        .map(|lane| {
            json!({
                "name": lane,
                "cards": (0..parts(rng, 5)).map(|_| json!({"task_id": format!("task-{:07}", rng.between(1, 2000)), "title": text::title(rng), "assignee": user(rng, users)})).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "id": id,
        "name": text::title(rng),
        "owner_id": user(rng, users),
        "lanes": lanes,
    })
}

fn report(rng: &mut Rng, id: &str, users: &[String]) -> Value {
    let day = text::time_in_range(rng) / 86_400 * 86_400;
    let series: Vec<Value> = (0..parts(rng, 20))
        .map(|i| {
            json!({
                "date": text::rfc3339(day + i * 86_400),
                "orders": rng.below(400),
                "revenue_cents": rng.below(5_000_000),
                "new_contacts": rng.below(60),
                "tickets": {"opened": rng.below(40), "solved": rng.below(40)},
            })
        })
        .collect();
    json!({
        "id": id,
        "kind": rng.pick(&["daily-sales", "support-load", "stock-levels"]),
        "generated_by": user(rng, users),
        "generated_at": text::rfc3339(day + 86_399),
        "parameters": {"region": rng.pick(text::CITIES), "currency": "EUR"},
        "series": series,
    })
}

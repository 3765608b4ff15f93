//! Every billing field, argument, input field and enum value carries a
//! description: they are the public SDL docs/billing.md is written from.

use serde_json::{Value, json};

use super::{EXPECTED, field};
use crate::support::spawn_app;

const BILLING_TYPES: [&str; 41] = [
    "Meter",
    "ChargeUnit",
    "ChargeModelKind",
    "PlanLevel",
    "AccountKind",
    "PartyKind",
    "RoundingMode",
    "Granularity",
    "InvoiceStatus",
    "LineKind",
    "Tier",
    "ChargeModel",
    "Charge",
    "Plan",
    "Account",
    "Party",
    "PlanAssignment",
    "BillingProfile",
    "MeterUsage",
    "UsageBucket",
    "TierLine",
    "InvoiceLine",
    "TaxSubtotal",
    "Invoice",
    "StatementLine",
    "Margin",
    "BpoStatement",
    "StorageReconciliation",
    "PartyInput",
    "AccountInput",
    "BillingProfileInput",
    "TierInput",
    "ChargeModelInput",
    "ChargeInput",
    "PlanInput",
    "CreatePlanInput",
    "InvoiceFilterInput",
    "Decimal",
    "Amount",
    // Shared with the rest of the schema, listed so their presence is
    // checked too.
    "UUID",
    "NaiveDate",
];

#[tokio::test]
async fn every_billing_field_argument_and_value_is_documented() {
    let app = spawn_app().await;
    let answer = app
        .gql(
            None,
            "{ __schema { types { name description
                fields { name description args { name description } }
                inputFields { name description }
                enumValues { name description } } } }",
            json!({}),
        )
        .await;
    let billing_fields: Vec<&str> = EXPECTED.iter().map(|(row, _, _)| field(row)).collect();
    let documented = |value: &Value| {
        value["description"]
            .as_str()
            .is_some_and(|d| !d.trim().is_empty())
    };
    let types = answer["data"]["__schema"]["types"]
        .as_array()
        .expect("types");
    let mut undocumented = Vec::new();
    for ty in types {
        let name = ty["name"].as_str().expect("type name");
        let whole_type = BILLING_TYPES.contains(&name) && !matches!(name, "UUID" | "NaiveDate");
        if whole_type && !documented(ty) {
            undocumented.push(name.to_owned());
        }
        let members = |key: &str| ty[key].as_array().cloned().unwrap_or_default();
        for field in members("fields") {
            let field_name = field["name"].as_str().expect("field name");
            let root_field =
                matches!(name, "Query" | "Mutation") && billing_fields.contains(&field_name);
            if !(whole_type || root_field) {
                continue;
            }
            if !documented(&field) {
                undocumented.push(format!("{name}.{field_name}"));
            }
            for arg in field["args"].as_array().cloned().unwrap_or_default() {
                if !documented(&arg) {
                    undocumented.push(format!("{name}.{field_name}({})", arg["name"]));
                }
            }
        }
        if whole_type {
            for member in members("inputFields")
                .into_iter()
                .chain(members("enumValues"))
            {
                if !documented(&member) {
                    undocumented.push(format!("{name}.{}", member["name"]));
                }
            }
        }
    }
    assert!(undocumented.is_empty(), "undocumented: {undocumented:?}");
    for ty in BILLING_TYPES {
        assert!(
            types.iter().any(|t| t["name"] == ty),
            "{ty} is not in the schema"
        );
    }
}

#[test]
fn the_sdl_has_the_agreed_billing_surface() {
    let sdl = callvault_gateway::sdl();
    // Arguments with descriptions are written one a line: compare without
    // descriptions and whitespace.
    let bare = strip_descriptions(&sdl);
    for needle in [
        "billingProfile(party:PartyInput!):BillingProfile!",
        "plans(bpoId:UUID):[Plan!]!",
        "plan(id:UUID!,version:Int):Plan!",
        "planAssignments(account:AccountInput!):[PlanAssignment!]!",
        "usage(tenantId:UUID,bpoId:UUID,from:NaiveDate!,to:NaiveDate!,granularity:Granularity!):[UsageBucket!]!",
        "invoices(filter:InvoiceFilterInput):[Invoice!]!",
        "invoice(id:UUID!):Invoice!",
        "invoiceCsv(id:UUID!):String!",
        "invoicePdf(id:UUID!):String!",
        "bpoStatement(bpoId:UUID!,month:NaiveDate!):BpoStatement!",
        "setBillingProfile(party:PartyInput!,profile:BillingProfileInput!):BillingProfile!",
        "createPlan(input:CreatePlanInput!):Plan!",
        "updatePlan(id:UUID!,input:PlanInput!):Plan!",
        "assignPlan(account:AccountInput!,planId:UUID!,timeZone:String):PlanAssignment!",
        "finalizeInvoice(id:UUID!):Invoice!",
        "reconcileStorage(day:NaiveDate!):[StorageReconciliation!]!",
        "scalarDecimal",
        "scalarAmount",
        "baseFee:Amount!",
        "taxRate:Decimal!",
        "invoicePrefix:String!=\"INV\"",
        "rounding:RoundingMode!=DOWN",
        "enumChargeModelKind{PER_UNITGRADUATEDVOLUMEPACKAGE}",
        "enumPlanLevel{WHOLESALERETAIL}",
        "enumGranularity{DAYMONTH}",
    ] {
        assert!(bare.contains(needle), "sdl lacks `{needle}`");
    }
}

/// The SDL without `"""…"""` and `"…"` description lines, and without
/// whitespace.
fn strip_descriptions(sdl: &str) -> String {
    let mut out = String::new();
    let mut in_doc = false;
    for line in sdl.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("\"\"\"") {
            let one_line = trimmed.len() > 3 && trimmed.ends_with("\"\"\"");
            if !one_line {
                in_doc = !in_doc;
            }
            continue;
        }
        if in_doc || (trimmed.starts_with('"') && trimmed.ends_with('"')) {
            continue;
        }
        out.extend(trimmed.chars().filter(|c| !c.is_whitespace()));
    }
    out
}

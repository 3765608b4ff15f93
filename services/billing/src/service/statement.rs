//! A BPO's month side by side: what each client owes it (their retail
//! invoices), what it owes the platform (its wholesale invoice), and its
//! margin per currency.

use std::collections::BTreeMap;
use std::sync::Arc;

use callvault_bus::Router;
use callvault_contracts::billing_api::{Account, BpoStatement, Invoice, Margin, StatementLine};
use callvault_contracts::metadata_api::ApiResult;
use callvault_contracts::ops::billing::GetBpoStatement;
use callvault_contracts::{Actor, BpoId};
use chrono::{Datelike, NaiveDate};

use super::BillingService;
use super::accounts::AccountInfo;

pub(super) fn routes(router: &mut Router, service: &Arc<BillingService>) {
    router.route(service, |s, r: GetBpoStatement| async move {
        s.statement(&r.actor, r.bpo, r.month).await
    });
}

impl BillingService {
    async fn statement(
        &self,
        actor: &Actor,
        bpo: BpoId,
        month: NaiveDate,
    ) -> ApiResult<BpoStatement> {
        self.authorize_bpo_read(actor, bpo)?;
        let first = month.with_day(1).unwrap_or(month);
        let mut clients = Vec::new();
        for tenant in self.tenants_of(bpo).await? {
            let id = tenant.id;
            let info = self.account_info(Account::Tenant(id), Some(tenant)).await?;
            clients.push(StatementLine {
                tenant_id: id,
                invoice: self.invoice_of_month(&info, first).await?,
            });
        }
        let wholesale_info = self.account_info(Account::Bpo(bpo), None).await?;
        let wholesale = self.invoice_of_month(&wholesale_info, first).await?;

        let mut sums: BTreeMap<&'static str, Margin> = BTreeMap::new();
        let retail = clients
            .iter()
            .filter_map(|c| c.invoice.as_ref())
            .map(|i| (i, true));
        for (invoice, is_retail) in retail.chain(wholesale.iter().map(|i| (i, false))) {
            let m = sums.entry(invoice.currency.code()).or_insert(Margin {
                currency: invoice.currency,
                retail_subtotal: 0,
                wholesale_subtotal: 0,
                margin: 0,
            });
            if is_retail {
                m.retail_subtotal = m.retail_subtotal.saturating_add(invoice.subtotal);
            } else {
                m.wholesale_subtotal = m.wholesale_subtotal.saturating_add(invoice.subtotal);
            }
        }
        let margins = sums
            .into_values()
            .map(|mut m| {
                m.margin = m.retail_subtotal.saturating_sub(m.wholesale_subtotal);
                m
            })
            .collect();
        Ok(BpoStatement {
            bpo_id: bpo,
            month: first,
            clients,
            wholesale,
            margins,
        })
    }

    /// The account's invoice for the month starting on `first` (its own
    /// time zone), finalized or draft.
    async fn invoice_of_month(
        &self,
        info: &AccountInfo,
        first: NaiveDate,
    ) -> ApiResult<Option<Invoice>> {
        let invoices = self.account_invoices(info).await?;
        Ok(invoices.into_iter().find(|i| i.period_first_day == first))
    }
}

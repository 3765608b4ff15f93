//! A stand-in for the disclosure service: every disclosure operation served
//! on the in-process bus with canned contract values, each call recorded.
//!
//! Acceptable here ONLY to check the gateway's own layer: which caller it
//! refuses before any call, which call each field makes, and how it maps
//! arguments and answers. It checks no permissions and keeps no state, so
//! whatever a test sees succeed was let through by the gateway alone. The
//! real disclosure service (its states, deadlines, its own permission check)
//! is tested end to end elsewhere.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use callvault_bus::Router;
use callvault_contracts::call::Direction;
use callvault_contracts::disclosure_api::*;
use callvault_contracts::metadata_api::{ApiError, ApiResult, ErrorCode};
use callvault_contracts::ops::disclosure as ops;
use callvault_contracts::ops::subject::{
    ErasureOutcome, RetainedBecause, RetainedRecording, StatutoryRetention,
};
use callvault_contracts::rpc::Rpc;
use callvault_contracts::{Actor, RecordingId, TenantId};
use chrono::{NaiveDate, TimeZone, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::metadata::World;

/// A request id the double refuses every change of with CONFLICT, as the
/// service does for a change the request's state doesn't allow.
pub const CONFLICTING_REQUEST: Uuid = Uuid::from_u128(0xc0_2f11c7);
/// The bundle every authorised download names.
pub const BUNDLE: Uuid = Uuid::from_u128(0xb0_0d1e);
/// A size past 2^32: `Int64`, not `Int`.
pub const BUNDLE_SIZE: u64 = 5_000_000_000;
/// A duration past 2^31 ms (about 25 days): `Int64`, not `Int`.
pub const LONG_DURATION_MS: u64 = 3_000_000_000;

/// One call that reached the double: the operation's wire name, and the
/// request as it arrived.
#[derive(Clone, Debug)]
pub struct DisclosureCall {
    pub method: &'static str,
    pub request: Value,
}

impl DisclosureCall {
    pub fn tenant(&self) -> Option<Uuid> {
        self.request["tenant"].as_str()?.parse().ok()
    }

    pub fn actor(&self) -> Option<Actor> {
        serde_json::from_value(self.request["actor"].clone()).ok()
    }
}

pub struct FakeDisclosure {
    world: World,
    calls: Mutex<Vec<DisclosureCall>>,
    /// Answer about tenant C (and another request) whatever was asked: a
    /// service bug the gateway must not pass on.
    rogue: AtomicBool,
}

impl FakeDisclosure {
    pub fn new(world: World) -> Self {
        Self {
            world,
            calls: Mutex::new(Vec::new()),
            rogue: AtomicBool::new(false),
        }
    }

    pub fn calls(&self) -> Vec<DisclosureCall> {
        self.calls.lock().expect("lock").clone()
    }

    pub fn methods(&self) -> Vec<&'static str> {
        self.calls().into_iter().map(|call| call.method).collect()
    }

    pub fn clear(&self) {
        self.calls.lock().expect("lock").clear();
    }

    pub fn go_rogue(&self, rogue: bool) {
        self.rogue.store(rogue, Ordering::SeqCst);
    }

    fn is_rogue(&self) -> bool {
        self.rogue.load(Ordering::SeqCst)
    }

    /// Records `request`; its JSON, to answer from.
    fn record<R: Rpc>(&self, request: &R) -> Value {
        let json = serde_json::to_value(request).expect("a request serialises");
        self.calls.lock().expect("lock").push(DisclosureCall {
            method: R::NAME,
            request: json.clone(),
        });
        json
    }

    /// The tenant an answer is about: the one asked, unless rogue.
    fn tenant_of(&self, request: &Value) -> TenantId {
        if self.is_rogue() {
            return self.world.tenant_c;
        }
        let tenant = request["tenant"].as_str().expect("a tenant");
        TenantId(tenant.parse().expect("a tenant id"))
    }

    fn request_answer(&self, request: &Value) -> ApiResult<DisclosureRequest> {
        let id = match request["id"].as_str() {
            Some(id) => id.parse().expect("a request id"),
            None => Uuid::new_v4(),
        };
        if id == CONFLICTING_REQUEST {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                "the request is not awaiting approval",
            ));
        }
        let id = if self.is_rogue() { Uuid::new_v4() } else { id };
        Ok(sample_request(&self.world, id, self.tenant_of(request)))
    }
}

pub fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 4, 5, 6, 7)
        .single()
        .expect("valid date")
}

fn day(month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, month, day).expect("valid date")
}

fn bilingual(topic: &str) -> Bilingual {
    Bilingual {
        en: format!("{topic} (en)"),
        ja: format!("{topic}（日本語）"),
    }
}

pub fn sample_settings() -> DisclosureSettings {
    DisclosureSettings {
        default_regime: Regime::Appi,
        appi_limit_days: 10,
        closed_days: vec![day(12, 31)],
        appi_fee: Some(Fee {
            amount: 1000,
            currency: "JPY".into(),
        }),
        privacy: PrivacyNotice {
            purposes: bilingual("purposes"),
            categories: bilingual("categories"),
            recipients: bilingual("recipients"),
            retention: bilingual("retention"),
            source: bilingual("source"),
            rights: bilingual("rights"),
        },
        ..DisclosureSettings::default()
    }
}

fn statutory() -> StatutoryRetention {
    StatutoryRetention {
        rule_id: Uuid::from_u128(7),
        rule_name: "securities".into(),
        legal_basis: "MiFID II art. 16(7)".into(),
    }
}

/// A request with every optional part filled in, so a query for every
/// field checks every mapping.
pub fn sample_request(world: &World, id: Uuid, tenant: TenantId) -> DisclosureRequest {
    let span = |channel, start_ms, end_ms, mode| RedactionSpan {
        channel,
        start_ms,
        end_ms,
        mode,
    };
    DisclosureRequest {
        id,
        tenant_id: tenant,
        kind: RequestKind::Erasure,
        regime: Regime::Gdpr,
        state: RequestState::AwaitingApproval,
        received_at: at(),
        channel: IntakeChannel::WebForm,
        requester: RequesterContact {
            name: "Hanako Yamada".into(),
            email: Some("hanako@example.test".into()),
            phone: None,
            postal_address: Some("1-1 Chiyoda, Tokyo".into()),
        },
        subject: SubjectIdentifiers {
            numbers: vec!["+81312345678".into()],
            from: Some(at()),
            to: None,
        },
        method: DisclosureMethod::Electronic,
        duplicate_of: Some(Uuid::from_u128(3)),
        deadline: Deadline {
            due_date: day(5, 4),
            due_at: at(),
            original_due_date: day(4, 4),
            extended_by_months: Some(1),
            extension_reasons: Some("many recordings".into()),
            clock_stopped_days: 2,
            sue_possible_from: None,
        },
        overdue: false,
        identity_attempts: vec![IdentityAttempt {
            at: at(),
            method: IdentityMethod::CallBack,
            verified: true,
            recorded_by: "co@example.test".into(),
        }],
        recordings: vec![RequestRecording {
            recording_id: world.rec_a1,
            started_at: at(),
            duration_ms: LONG_DURATION_MS,
            direction: Direction::Inbound,
            source: RecordingSource::Added,
            included: true,
            reason: Some("named by the requester".into()),
            redactions: vec![span(SpanChannel::Agent, 1_000, 2_500, RedactionMode::Tone)],
            pci_pauses: vec![span(
                SpanChannel::Both,
                2_600_000_000,
                2_600_005_000,
                RedactionMode::Silence,
            )],
            legal_holds: vec![Uuid::from_u128(9)],
            statutory: Some(statutory()),
            retain_until: at(),
        }],
        transitions: vec![
            Transition {
                from: None,
                to: RequestState::Received,
                at: at(),
                actor: "co@example.test".into(),
                role: "compliance_officer".into(),
                reason: None,
            },
            Transition {
                from: Some(RequestState::InReview),
                to: RequestState::AwaitingApproval,
                at: at(),
                actor: "co@example.test".into(),
                role: "compliance_officer".into(),
                reason: Some("reviewed".into()),
            },
        ],
        prepared_by: Some("co@example.test".into()),
        approved_by: None,
        refusal: Some(Refusal {
            ground: RefusalGround::SeriousHindranceToBusiness,
            text: "refused".into(),
            complaint_notice: "you may complain to the PPC".into(),
        }),
        fee: Some(Fee {
            amount: 1000,
            currency: "JPY".into(),
        }),
        fee_paid: true,
        bundle: Some(BundleInfo {
            id: BUNDLE,
            state: BundleState::Ready,
            size: Some(BUNDLE_SIZE),
            sha256: Some("ab".repeat(32)),
            created_at: at(),
            expires_at: None,
            downloads: 1,
        }),
        erasure: Some(ErasureOutcome {
            erased: vec![world.rec_a2],
            retained: vec![
                RetainedRecording {
                    recording_id: world.rec_a1,
                    because: RetainedBecause::LegalHold {
                        holds: vec![Uuid::from_u128(9)],
                    },
                    retain_until: at(),
                },
                RetainedRecording {
                    recording_id: RecordingId(Uuid::from_u128(11)),
                    because: RetainedBecause::Statutory {
                        retention: statutory(),
                    },
                    retain_until: at(),
                },
            ],
            certificate_id: Some(Uuid::from_u128(12)),
        }),
        restriction_active: false,
        created_at: at(),
        updated_at: at(),
    }
}

fn register(request: &Value) -> Vec<RegisterEntry> {
    vec![RegisterEntry {
        request_id: Uuid::from_u128(21),
        kind: RequestKind::Access,
        regime: Regime::Appi,
        state: RequestState::Refused,
        received_at: at(),
        due_date: request["to"]
            .as_str()
            .and_then(|to| to.parse().ok())
            .unwrap_or_else(|| day(1, 1)),
        extended_by_months: None,
        answered_at: Some(at()),
        outcome: "refused:violates_other_laws".into(),
        on_time: Some(true),
    }]
}

/// Routes a change answering the request it names (or a new one).
fn route_change<R>(router: &mut Router, fake: &Arc<FakeDisclosure>)
where
    R: Rpc<Reply = DisclosureRequest>,
{
    router.route(fake, |f, r: R| async move {
        let request = f.record(&r);
        f.request_answer(&request)
    });
}

/// The double as a service: every disclosure operation.
pub fn router(fake: &Arc<FakeDisclosure>) -> Router {
    let mut router = Router::new();
    router
        .route(fake, |f, r: ops::GetDisclosureSettings| async move {
            f.record(&r);
            Ok(sample_settings())
        })
        .route(fake, |f, r: ops::SetDisclosureSettings| async move {
            f.record(&r);
            Ok(r.settings)
        })
        .route(fake, |f, r: ops::ListDisclosureRequests| async move {
            let request = f.record(&r);
            let tenant = f.tenant_of(&request);
            Ok(vec![
                sample_request(&f.world, Uuid::from_u128(31), tenant),
                sample_request(&f.world, Uuid::from_u128(32), tenant),
            ])
        })
        .route(fake, |f, r: ops::GetDisclosureRegister| async move {
            let request = f.record(&r);
            Ok(register(&request))
        })
        .route(fake, |f, r: ops::GetDisclosureRegisterCsv| async move {
            f.record(&r);
            Ok("request_id,kind\r\n00000000-0000-0000-0000-000000000015,ACCESS\r\n".to_owned())
        })
        .route(fake, |f, r: ops::AuthorizeBundleDownload| async move {
            f.record(&r);
            if r.id == CONFLICTING_REQUEST {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    "the bundle is not ready",
                ));
            }
            Ok(BundleDownload {
                bundle_id: BUNDLE,
                request_id: if f.is_rogue() { Uuid::new_v4() } else { r.id },
                file_name: "disclosure-2025-0001.zip".into(),
                size: BUNDLE_SIZE,
                sha256: "cd".repeat(32),
            })
        });
    route_change::<ops::CreateDisclosureRequest>(&mut router, fake);
    route_change::<ops::GetDisclosureRequest>(&mut router, fake);
    route_change::<ops::AskForIdentity>(&mut router, fake);
    route_change::<ops::RecordIdentityAttempt>(&mut router, fake);
    route_change::<ops::ReopenRequest>(&mut router, fake);
    route_change::<ops::ExtendDeadline>(&mut router, fake);
    route_change::<ops::AddRequestRecording>(&mut router, fake);
    route_change::<ops::RemoveRequestRecording>(&mut router, fake);
    route_change::<ops::SetRedactions>(&mut router, fake);
    route_change::<ops::SubmitForApproval>(&mut router, fake);
    route_change::<ops::SendBackRequest>(&mut router, fake);
    route_change::<ops::ApproveRequest>(&mut router, fake);
    route_change::<ops::RecordFeePayment>(&mut router, fake);
    route_change::<ops::DeliverRequest>(&mut router, fake);
    route_change::<ops::CloseRequest>(&mut router, fake);
    route_change::<ops::RefuseRequest>(&mut router, fake);
    route_change::<ops::WithdrawRequest>(&mut router, fake);
    route_change::<ops::LiftRestriction>(&mut router, fake);
    router
}

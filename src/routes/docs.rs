//! The OpenAPI document's frame: title, security scheme, tags. Paths and schemas come from the
//! handlers' annotations as the routers are built, so the document cannot drift from the routes.

use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "oncology-registry",
        description = "Registry API of an oncology ward: staff accounts, patients, vital signs with \
            NEWS2 scoring, flags and alerts, the ward overview, ECG recordings with their \
            insights, exams with signed exam and result tokens, patient notifications, and the \
            audit log. \
            Errors are RFC 9457 problem details (`application/problem+json`). Every route except \
            health, sign-in and refresh needs `Authorization: Bearer <access token>`.",
        license(name = "MIT OR Apache-2.0")
    ),
    modifiers(&BearerAuth),
    // The first message of `/ws/ecg-trends` (a WebSocket message, so no path refers to it).
    components(schemas(crate::routes::streams::TrendStreamMessage)),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "auth", description = "Sign-in, token refresh, sign-out"),
        (name = "users", description = "Staff accounts (administrators)"),
        (name = "patients", description = "Patients (clinical staff)"),
        (name = "vital-signs", description = "Observations, NEWS2, flags and insights (nurses, physicians)"),
        (name = "ecgs", description = "ECG recordings: upload, signals, insights (nurses, physicians, technicians)"),
        (name = "lab-results", description = "Neutrophil counts for the febrile neutropenia rule"),
        (name = "alerts", description = "Clinical alerts and their lifecycle"),
        (name = "wards", description = "The ward overview"),
        (name = "streams", description = "Live WebSocket streams: Holter trends, a ward's vital signs and alerts"),
        (name = "exams", description = "The exam catalog, exam orders and their lifecycle, exam and result tokens, result intake, the results inbox"),
        (name = "notifications", description = "Patient notifications (result ready) and their delivery"),
        (name = "audit", description = "The audit log (administrators)"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Completes the document once every route has added its paths.
pub fn finish_document(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    BodyProblems.modify(&mut doc);
    close_batch_operations(&mut doc);
    doc
}

/// utoipa leaves the variants of a tagged enum open, though serde refuses unknown fields in
/// them (`deny_unknown_fields`); say so in the document too.
fn close_batch_operations(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{AdditionalProperties, Schema};
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    if let Some(RefOr::T(Schema::OneOf(one_of))) =
        components.schemas.get_mut("BatchOperationRequest")
    {
        for item in &mut one_of.items {
            if let RefOr::T(Schema::Object(object)) = item {
                object.additional_properties =
                    Some(Box::new(AdditionalProperties::FreeForm(false)));
            }
        }
    }
}

/// Every operation that takes a body can also answer 400 (not JSON), 413 (too large) and 415
/// (not `application/json`); these come from the extractors and limits shared by all handlers,
/// so they are documented once here rather than on each handler.
struct BodyProblems;

impl Modify for BodyProblems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    crate::error::PROBLEM_JSON,
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            for operation in [&mut item.post, &mut item.put, &mut item.patch]
                .into_iter()
                .flatten()
            {
                if operation.request_body.is_none() {
                    continue;
                }
                for (status, description) in [
                    ("400", "The body is not valid JSON"),
                    ("413", "The body exceeds the size limit"),
                    ("415", "The body is not application/json"),
                ] {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| problem(description).into());
                }
            }
        }
    }
}

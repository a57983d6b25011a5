//! The OpenAPI document's frame: title, security scheme, tags. Paths and schemas come from the
//! handlers' annotations as the routers are built, so the document cannot drift from the routes.

use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "oncology-registry",
        description = "Registry API of an oncology ward: staff accounts, patients and the audit log. \
            Errors are RFC 9457 problem details (`application/problem+json`). Every route except \
            health, sign-in and refresh needs `Authorization: Bearer <access token>`.",
        license(name = "MIT OR Apache-2.0")
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "auth", description = "Sign-in, token refresh, sign-out"),
        (name = "users", description = "Staff accounts (administrators)"),
        (name = "patients", description = "Patients (clinical staff)"),
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

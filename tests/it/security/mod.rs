//! Security tests. `matrix`, `coverage` and `headers` check access control and the
//! security headers of every route for every kind of caller. `cross_project` checks
//! that a coordinator cannot reach another project's members.
//!
//! The other modules try known attacks on Open Humans data-sharing projects against
//! this server.
//!
//! Each attack is sent over HTTP to a spawned server. The tests in this folder check
//! both the rejection and that nothing changed. Tests that live with their feature
//! elsewhere are listed too, so the list maps every attack to the tests that show it
//! fails.
//!
//! - Another member's membership: opening or submitting someone else's leave page is
//!   a 404 and leaves the membership active, without an erasure request
//!   (`withdrawal::leave::other_member_cannot_leave_for_someone`,
//!   `connections::other_member_gets_404_on_leave_page`). An off-site `next` sends no
//!   one away (`pages::leave_ignores_offsite_next`,
//!   `accounts::login::offsite_next_is_ignored`).
//! - Completing an upload that is not the caller's: an unknown id, another project's
//!   file or a second completion is a 400
//!   (`api::uploads::completion_checks_owner_and_bytes`), and so is another member's
//!   file of the same project, which stays incomplete
//!   (`files::other_members_upload_cannot_be_completed`).
//! - Reading a former member's data: after leaving, the master token, the member's
//!   token, exchange links and download links all stop, and the permission snapshot is
//!   cleared (`api::exchange::master_token_needs_a_current_member`,
//!   `api::credentials::former_member_token_is_401`,
//!   `api::exchange::exchange_credential_ends_when_member_leaves_and_rejoins`,
//!   `api::exchange::download_links_stop_when_member_leaves`,
//!   `connections::leaving_revokes_tokens_and_clears_snapshot`).
//! - A project acting as its member on the website: an access token or master token,
//!   in the query or the `Authorization` header, opens no page and submits no form
//!   (`api::credentials::token_does_not_log_in_to_pages`,
//!   `pages::api_tokens_do_not_work_as_page_logins`).
//! - Generic OAuth2 pages: client self-registration and the application pages do not
//!   exist (`pages::oauth2_application_pages_do_not_exist`,
//!   `oauth2::revoke::metadata_document_lists_endpoints`), and `/oauth2/authorize/`
//!   applies every project check and records the membership
//!   (`oauth2::authorize::inactive_project_shows_closed_page_and_forged_post_issues_nothing`,
//!   `oauth2::authorize::generic_authorize_path_issues_codes_too`).
//! - Script in a project's name: it is escaped on the coordinator's pages
//!   (`projects::create::script_in_name_is_escaped`) and on the consent, connections,
//!   leave, agreements, activity and directory pages that members open
//!   (`pages::project_name_is_inert_on_member_pages`).
//! - Requesting data from projects that are not offered as sources (unapproved, not a
//!   data source, unknown, or the project itself) is rejected on create and on edit
//!   (`projects::create::forged_requested_sources_are_rejected`,
//!   `projects::update::project_cannot_request_itself`,
//!   `pages::edit_form_rejects_forged_sources`).
//! - Credentials in URLs and logs. Kept for compatibility: `?access_token=` on `/api/`
//!   paths only (`api::credentials::token_in_header_or_query`, with the page case
//!   above), never written to the request log
//!   (`binary::json_logs_have_one_line_per_request`). The members list links carry a
//!   per-member credential that works nowhere else, not the master token
//!   (`api::exchange::exchange_credential_works_only_there`); the access log stores no
//!   token (`member_control::access_log::log_stores_no_token`,
//!   `storage::download_is_logged_without_tokens`); download URLs carry none
//!   (`files::download_url_lives_one_hour_for_one_file`).
//! - Plain-text credentials: master tokens and client secrets are stored as keyed
//!   hashes and shown once (`projects::credentials::master_token_is_shown_once_and_hashed`,
//!   `projects::credentials::rotated_secret_is_shown_once`,
//!   `projects::create::create_with_every_field_shows_everything`); the secret shown at
//!   creation authenticates, and after a rotation only the new one does
//!   (`credentials::shown_secret_works_until_rotated`).
//! - A message body written as a template: `{{ name }}` and `{% tag %}` reach members
//!   as written, only `{{ PROJECT_MEMBER_ID }}` is replaced
//!   (`messaging::api::master_token_messages_listed_members`).
//! - The deauthorization webhook as a request forgery: local, private and link-local
//!   hosts are rejected when the form is saved and again before each delivery, also
//!   when disguised as decimal, hexadecimal, short or IPv4-mapped addresses
//!   (`withdrawal::webhook_url::form_rejects_local_webhook_hosts`,
//!   `withdrawal::webhooks::private_address_is_refused_and_recorded`,
//!   `webhooks::disguised_loopback_hosts_are_rejected`); redirects are not followed
//!   (`webhooks::webhook_redirect_is_not_followed`); a receiver that never answers
//!   neither delays the withdrawal nor holds the sender past its timeout
//!   (`webhooks::hanging_receiver_does_not_hold_leave`); failed deliveries are retried
//!   from the database (`withdrawal::retries::failing_receiver_exhausts_retry_schedule`,
//!   `withdrawal::retries::delivery_resumes_after_restart`).
//! - Webhook signatures. Kept for compatibility: the SHA-1 signature of the body
//!   alone. Added beside it: a SHA-256 signature over the delivery id, the time of
//!   the attempt and the body, made anew on each attempt
//!   (`withdrawal::webhooks::leave_with_erasure_sends_signed_webhook`,
//!   `webhooks::retried_delivery_is_signed_anew`); without a secret neither is sent
//!   (`withdrawal::webhooks::leave_without_erasure_sends_unsigned_false`).
//! - A webhook secret outside printable ASCII is rejected
//!   (`projects::create::invalid_fields_are_named_and_values_kept`).
//! - Download URLs. Kept for compatibility: reusable for one hour, each download
//!   logged. They are bound to one file, one project and one expiry, stop when the
//!   member leaves, and listing files stores nothing
//!   (`files::download_url_lives_one_hour_for_one_file`,
//!   `storage::download_url_expired_tampered_or_incomplete_is_403`,
//!   `api::exchange::download_links_stop_when_member_leaves`).
//! - Weak OAuth2 lifetimes: PKCE is `S256` only and required when the project asks,
//!   codes expire after 10 minutes (the test waits 11), a replayed code revokes what
//!   it issued, refresh tokens expire after a year unused and a reused rotated one
//!   revokes the grant
//!   (`oauth2::authorize::plain_pkce_is_rejected`,
//!   `oauth2::authorize::required_pkce_without_challenge_is_invalid_request`,
//!   `oauth2::token::pkce_verifier_rules_are_enforced`,
//!   `oauth2::token::expired_code_is_rejected`,
//!   `oauth2::token::reused_code_is_rejected_and_revokes_tokens`,
//!   `oauth2::refresh::refresh_token_expires_after_a_year_unused`,
//!   `oauth2::refresh::rotated_token_reuse_after_grace_revokes_grant`). A new
//!   authorization leaves the member's earlier grants working by design; leaving
//!   revokes them all (`connections::leaving_revokes_tokens_and_clears_snapshot`).
//! - File names with path separators or control characters: the storage key keeps
//!   only safe characters under a fresh random directory, the name is reduced to its
//!   last part, and control characters are rejected
//!   (`api::uploads::multipart_upload_stores_a_completed_file`,
//!   `files::upload_names_stay_inside_storage`).
//! - Redirect URIs that are not URLs a client can own (scripts, data, relative paths,
//!   fragments, credentials, plain http off loopback, control characters) are rejected
//!   on create and on edit (`projects::create::bad_redirect_uris_are_rejected`,
//!   `pages::edit_form_rejects_unsafe_redirect_uris`), and authorization matches them
//!   exactly (`oauth2::authorize::unregistered_redirect_uri_shows_error_page`).
//! - An `md5` that merely contains 32 hex digits is rejected by both uploads
//!   (`api::uploads::malformed_metadata_is_400_naming_the_problem`,
//!   `files::md5_must_be_exactly_32_hex_digits`).
//! - Members editing datatypes: creating and editing them is for site admins only
//!   (`datatypes::create_and_update_are_admin_only`).
//! - Learning usernames through token introspection: no introspection is served
//!   (`credentials::introspection_is_not_served`); a project sees a username only
//!   when the member shared it (`api::exchange::username_only_when_granted`); a client
//!   cannot revoke another client's tokens
//!   (`oauth2::revoke::revoking_another_clients_token_leaves_it_working`).
//!
//! Paths without a crate prefix are modules of this folder; the others are relative to
//! the test crate's root.

mod coverage;
mod credentials;
mod cross_project;
mod files;
mod headers;
mod matrix;
mod pages;
mod webhooks;
mod world;

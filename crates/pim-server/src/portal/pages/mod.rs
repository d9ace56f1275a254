//! The portal's sections, one module each: its routes, handlers and page structs (templates in
//! `templates/<section>*.html`).

pub mod approvals;
pub mod audit;
pub mod manage;
pub mod mfa;
pub mod my_roles;
pub mod requests;
pub mod reviews;

//! The portal's sections, one module each: its routes, handlers and page structs (templates in
//! `templates/<module>*.html`). Manage has one module per tab.

pub mod approvals;
pub mod audit;
pub mod audit_chart;
pub mod manage;
pub mod manage_alerts;
pub mod manage_assignments;
pub mod manage_assignments_change;
pub mod manage_audiences;
pub mod manage_directory;
pub mod manage_groups;
pub mod manage_lookup;
pub mod manage_reviews;
pub mod manage_reviews_create;
pub mod manage_reviews_instance;
pub mod manage_roles;
pub mod manage_settings;
pub mod manage_settings_form;
pub mod mfa;
pub mod my_roles;
pub mod my_roles_status;
pub mod requests;
pub mod requests_detail;
pub mod reviews;

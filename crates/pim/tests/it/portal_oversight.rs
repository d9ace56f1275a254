//! Portal pages (being built).

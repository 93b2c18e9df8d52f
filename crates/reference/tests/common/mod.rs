//! What the differential tests share.

pub mod differential;

//! Registered numbers, one named constant each, with the RFC section that
//! defines it. Values a draft only suggests are marked "suggested".

pub mod aif;
pub mod content_format;
pub mod cose;
pub mod cwt;
pub mod groupcomm;
pub mod oauth;
pub mod oscore;

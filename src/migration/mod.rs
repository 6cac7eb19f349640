pub mod amend;
pub mod check;
pub mod detail;
pub mod new;
pub mod plan;
pub mod runner;
pub mod source;
pub mod status;

//! The configuration: the YAML file of the contract, loaded into a tree that
//! keeps line numbers ([`yaml`]), interpolated with `${ENV}`, and validated in
//! one pass that reports every problem as `FILE:LINE: PATH: message`.

mod load;
pub mod merge;
mod model;
pub mod units;
pub mod yaml;

pub use load::{Diagnostic, Loaded, load_file, load_str, load_tree, process_env};
pub use merge::{ApiObject, Effective, MASK, ObjectKind, Problem, load_effective, redact_url};
pub use model::*;
pub use units::{Cidr, parse_duration, parse_size};

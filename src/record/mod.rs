//! Recordings: every run as JSON lines behind a versioned header, and what can be done with
//! one: replay it, resume it, fork it, re-price it under another strategy, export it.

pub mod format;
pub mod reader;
pub mod store;
pub mod writer;

pub use format::{Header, Line, Parent};
pub use reader::{ReadError, Recording};
pub use store::RecordedOutputs;
pub use writer::{Recorder, default_name};
pub mod otlp;
pub mod reprice;

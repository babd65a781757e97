//! Recordings: every run as JSON lines behind a versioned header, and what can be done with
//! one: replay it, resume it, fork it, re-price it under another strategy, export it.
//!
//! - `format`: the versioned line types; `writer`: the recorder that owns the file;
//!   `reader`: a recording read back (`lines`: its frequent lines read straight into events,
//!   and where each output is; `blocks`: a folded read on two threads); `start`: where a
//!   run's recording goes and how a resume is assembled; `store`: a recording's outputs served to a rerun; `reprice` and
//!   `otlp`: what a recording can be turned into; `push`: OTLP/HTTP delivery of those spans,
//!   and `stream`: the same while a run goes.

mod blocks;
pub mod format;
mod lines;
pub mod reader;
pub mod start;
pub mod store;
pub mod writer;

pub use format::{Header, Line, Parent};
pub use reader::{ReadError, Recording};
pub use store::RecordedOutputs;
pub use writer::{Recorder, default_name};
pub mod otlp;
pub mod push;
pub mod reprice;
pub mod stream;

//! Starting a recorded run, the one way the command line and the screen both do it: where the
//! recording goes, what its header says, and the spec that resumes an interrupted recording.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Header, Parent, RecordedOutputs, Recorder, Recording, default_name};
use crate::engine::{OutputStore, RunSpec};

/// Where a run is recorded when no path is given: `runs/` under the data directory.
pub fn default_path(spec: &RunSpec) -> Option<PathBuf> {
    crate::load::data_dir().map(|d| d.join("runs").join(default_name(&spec.flow.name, &spec.strategy.name, spec.seed)))
}

/// Opens a recorder for `spec` at `path`, its header saying whether the run is `live` and
/// what it continues. On failure, the path it tried with the error.
pub fn recorder(spec: &RunSpec, live: bool, parent: Option<Parent>, path: &Path) -> Result<Recorder, std::io::Error> {
    recorder_with_text(spec, None, live, parent, path)
}

/// [`recorder`] for a caller that took the flow's text out of the flow, so that a long run
/// does not hold it: the header embeds `flow_text` instead.
pub fn recorder_with_text(
    spec: &RunSpec,
    flow_text: Option<String>,
    live: bool,
    parent: Option<Parent>,
    path: &Path,
) -> Result<Recorder, std::io::Error> {
    let mut header = Header::new(spec, if live { "live" } else { "sim" });
    if let Some(text) = flow_text {
        header.flow.text = text;
    }
    header.parent = parent;
    Recorder::create(path, &header, spec.flow.clone())
}

/// What resuming a recording runs.
pub struct Resume {
    /// The recorded run's flow, strategy, catalog, seed and input, under a new run id, with
    /// every finished unit's output served from the recording.
    pub spec: RunSpec,
    /// The header's link back to the recording.
    pub parent: Parent,
    /// How many units' outputs are reused.
    pub reused: usize,
}

/// The run that continues `rec`: finished units are reused, the rest run. `cache`, when given,
/// serves what the recording does not.
pub fn resume(rec: &Recording, cache: Option<Arc<dyn OutputStore>>) -> Resume {
    let before = rec.state();
    let store = RecordedOutputs::for_resume(&before);
    let reused = store.len();
    let mut spec = rec.spec();
    spec.run_id = rec.header.run + 1;
    let cache: Arc<dyn OutputStore> = match cache {
        Some(c) => c,
        None => crate::cache::MemoryCache::new(),
    };
    spec.store = Some(Arc::new(crate::cache::Rerun { previous: store, cache }));
    Resume { spec, parent: Parent { file: rec.file.clone(), relation: "resume".into(), node: None }, reused }
}

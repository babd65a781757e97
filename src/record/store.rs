//! Serving a recording's finished outputs to a new run: what resume and fork reuse.

use std::collections::{HashMap, HashSet};

use crate::engine::{OutputStore, Query, Served};
use crate::state::{RunState, Status};

/// The finished outputs of a recorded run, by node id and item.
pub struct RecordedOutputs {
    by_unit: HashMap<(String, Option<u32>), Served>,
}

impl RecordedOutputs {
    /// The outputs a resumed run reuses: each counts at its recorded cost and times (the
    /// money was spent before the interruption), not as a free cache hit as a fork's are.
    pub fn for_resume(state: &RunState) -> RecordedOutputs {
        let mut r = RecordedOutputs::from_state(state, &HashSet::new());
        for u in &state.units {
            let id = state.flow.nodes[u.unit.index()].id.clone();
            if let Some(s) = r.by_unit.get_mut(&(id, u.unit.item))
                && u.status == Status::Done
            {
                s.resumed = Some((u.billed_usage, u.ttft.unwrap_or_default(), u.latency.unwrap_or_default()));
            }
        }
        r
    }
}

impl RecordedOutputs {
    /// Every unit that finished (or was served from cache) in `state`, except the nodes in
    /// `except` (a fork reruns those).
    pub fn from_state(state: &RunState, except: &HashSet<usize>) -> RecordedOutputs {
        let mut by_unit = HashMap::new();
        for u in &state.units {
            if !matches!(u.status, Status::Done | Status::Cached) || except.contains(&u.unit.index()) {
                continue;
            }
            if let Some(model) = &u.model {
                let id = state.flow.nodes[u.unit.index()].id.clone();
                by_unit
                    .insert((id, u.unit.item), Served { model: model.clone(), usage: u.usage, output: u.output_shared(), resumed: None });
            }
        }
        RecordedOutputs { by_unit }
    }

    pub fn len(&self) -> usize {
        self.by_unit.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_unit.is_empty()
    }
}

impl OutputStore for RecordedOutputs {
    fn get(&self, q: &Query<'_>) -> Option<Served> {
        self.by_unit.get(&(q.node.to_string(), q.item)).cloned()
    }
}

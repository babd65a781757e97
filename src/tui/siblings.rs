//! Runs of sibling nodes: nodes of the same kind that wait on exactly the same nodes. Past a
//! few, a column of their boxes is taller than the screen and says less than one box with
//! their sum, so the layout can fold each run into one box, like a fan-out's instances.

use std::collections::HashMap;

use crate::flow::Flow;

/// A run of siblings is folded into one box by default from this many nodes: past it, a
/// column of boxes is taller than a screen and says less than one box with the sum.
pub const FOLD_AT: usize = 6;

/// Runs of sibling nodes: nodes of the same kind that wait on exactly the same nodes (and do
/// not fan out themselves). Each run can be folded into one box, like a fan-out's instances.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Siblings {
    /// The run each node belongs to, if any.
    pub of: Vec<Option<usize>>,
    /// Each run's nodes, in file order (two or more).
    pub members: Vec<Vec<usize>>,
}

impl Siblings {
    pub fn of_flow(flow: &Flow) -> Siblings {
        let mut by: HashMap<(&str, Vec<usize>), Vec<usize>> = HashMap::new();
        for (i, node) in flow.nodes.iter().enumerate() {
            if node.map.is_some() {
                continue;
            }
            let mut after = node.after.clone();
            after.sort_unstable();
            by.entry((node.kind.as_str(), after)).or_default().push(i);
        }
        let mut members: Vec<Vec<usize>> = by.into_values().filter(|m| m.len() >= 2).collect();
        members.sort_unstable_by_key(|m| m[0]);
        let mut of = vec![None; flow.nodes.len()];
        for (g, m) in members.iter().enumerate() {
            for &n in m {
                of[n] = Some(g);
            }
        }
        Siblings { of, members }
    }

    /// Which runs start folded: those of [`FOLD_AT`] nodes or more.
    pub fn default_folds(&self) -> Vec<bool> {
        self.members.iter().map(|m| m.len() >= FOLD_AT).collect()
    }
}

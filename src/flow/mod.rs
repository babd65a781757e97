//! Flows: the agent DAG a user declares in TOML, validated into indices so the engine never looks
//! a name up twice.

mod check;
mod parse;
pub mod template;

pub use check::{Check, CheckResult, Condition, Test, list_items};
pub use parse::{parse_flow, parse_flow_owned};
pub use template::Piece;

use petgraph::graph::DiGraph;

/// The kinds Baton knows by name; any other word is accepted as the user's own kind.
pub const KNOWN_KINDS: &[&str] = &["reasoning", "search", "classification", "extract", "summarize", "generate", "code"];

/// A validated flow. Node indices follow the file's order; `order` is a topological order that
/// breaks ties by file order, so every traversal is deterministic.
#[derive(Debug, Clone)]
pub struct Flow {
    pub name: String,
    pub description: String,
    /// The default input when a run names none.
    pub input: String,
    /// The strategy the flow suggests when the command line names none.
    pub strategy: Option<String>,
    /// Where `strategy` is written in the flow's file, to point at it when it names nothing.
    pub strategy_span: Option<std::ops::Range<usize>>,
    pub nodes: Vec<Node>,
    pub order: Vec<usize>,
    /// For each node, the nodes that list it in `after`.
    pub dependents: Vec<Vec<usize>>,
    /// Where the flow came from and its text as loaded, kept for recordings.
    pub source_name: String,
    pub source_text: String,
}

/// One agent in the flow.
#[derive(Debug, Clone)]
pub struct Node {
    pub id: String,
    pub kind: String,
    pub description: String,
    /// 1 (trivial) to 10 (hardest); routing rules and the simulator's quality model read it.
    pub complexity: u8,
    pub prompt: String,
    pub template: Vec<Piece>,
    pub after: Vec<usize>,
    /// The upstream outputs this node receives in `declared` context mode, when the file lists
    /// them; `None` means its `after` list (read it through [`Node::context`]). Not a copy of
    /// `after`: that was 80 bytes a node of a layered flow.
    pub declared_context: Option<Vec<usize>>,
    pub expected_tokens: u32,
    pub max_tokens: u32,
    pub tags: Vec<String>,
    /// Boxed, like `sim`: most nodes have neither, and inline they made every node 120 bytes
    /// larger (100,000-node flows are read whole).
    pub when: Option<Box<Condition>>,
    pub map: Option<FanOut>,
    pub checks: Vec<Check>,
    /// Shared: nodes without hints all point at one default.
    pub sim: std::sync::Arc<SimHints>,
    /// Line of the node's `id` in its file, for editors and messages.
    pub line: usize,
}

/// `map = { over = "planner", limit = 4 }`: one instance per item of an upstream list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FanOut {
    pub over: usize,
    /// How many instances run at once.
    pub limit: usize,
    /// Items beyond this many are dropped (and the node says so).
    pub max_items: usize,
}

/// Hints for the simulated provider; real providers ignore them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimHints {
    /// The output ends with one of these labels (a classifier's answer, a verdict).
    pub labels: Vec<String>,
    /// Relative weights of the labels; uniform when empty.
    pub weights: Vec<f64>,
    /// The output is a JSON array with between `min` and `max` items.
    pub items: Option<(u32, u32)>,
    /// Text a good answer contains, for `regex` checks the simulator cannot otherwise satisfy.
    pub sample: Option<String>,
}

impl Node {
    /// The upstream outputs this node receives in `declared` context mode.
    pub fn context(&self) -> &[usize] {
        self.declared_context.as_deref().unwrap_or(&self.after)
    }
}

impl SimHints {
    /// The hints of a node that gives none, shared by every such node (one each was 96 bytes
    /// a node of a 100,000-node flow).
    pub fn none() -> std::sync::Arc<SimHints> {
        static NONE: std::sync::LazyLock<std::sync::Arc<SimHints>> = std::sync::LazyLock::new(Default::default);
        NONE.clone()
    }
}

impl Flow {
    pub fn node_index(&self, id: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == id)
    }

    /// The nodes nothing depends on.
    pub fn sinks(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.nodes.len()).filter(|&i| self.dependents[i].is_empty())
    }

    /// The dependency graph: an edge from each dependency to its dependent.
    pub fn graph(&self) -> DiGraph<usize, ()> {
        let mut g = DiGraph::with_capacity(self.nodes.len(), self.nodes.len());
        let ids: Vec<_> = (0..self.nodes.len()).map(|i| g.add_node(i)).collect();
        for (i, n) in self.nodes.iter().enumerate() {
            for &d in &n.after {
                g.add_edge(ids[d], ids[i], ());
            }
        }
        g
    }

    /// Whether `ancestor` must finish before `node` starts.
    pub fn is_ancestor(&self, ancestor: usize, node: usize) -> bool {
        let mut stack = self.nodes[node].after.clone();
        let mut seen = vec![false; self.nodes.len()];
        while let Some(n) = stack.pop() {
            if n == ancestor {
                return true;
            }
            if !std::mem::replace(&mut seen[n], true) {
                stack.extend(self.nodes[n].after.iter().copied());
            }
        }
        false
    }

    /// Position of each node in the topological order.
    pub fn topo_rank(&self) -> Vec<u32> {
        let mut rank = vec![0; self.nodes.len()];
        for (r, &n) in self.order.iter().enumerate() {
            rank[n] = r as u32;
        }
        rank
    }
}

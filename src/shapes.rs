//! Synthetic flows of known shapes, for benchmarks and the peer comparison: a chain, layered
//! DAGs (every node depends on every node of the layer before, or on 2–3 of them), and
//! one-to-N-to-one.

use std::fmt::Write as _;
use std::sync::Arc;

use serde::Deserialize;

use crate::diag::Source;
use crate::flow::{Flow, parse_flow};
use crate::routing::{Catalog, Strategy};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Shape {
    /// n nodes, each after the previous one.
    Chain { n: usize },
    /// `layers` layers of `width` nodes; each node runs after the whole previous layer.
    Layered { layers: usize, width: usize },
    /// One source, `width` parallel nodes, one sink.
    FanOutIn { width: usize },
    /// `layers` layers of `width` nodes; node `w` of a layer runs after nodes `w` and `w + 1`
    /// of the layer before, and also after node `w + width / 2` when its layer and `w` are both
    /// even or both odd (indices wrap): 2 or 3 predecessors, the same every time.
    Sparse { layers: usize, width: usize },
}

impl Shape {
    pub fn nodes(self) -> usize {
        match self {
            Shape::Chain { n } => n,
            Shape::Layered { layers, width } => layers * width,
            Shape::FanOutIn { width } => width + 2,
            Shape::Sparse { layers, width } => layers * width,
        }
    }

    pub fn name(self) -> String {
        match self {
            Shape::Chain { n } => format!("chain-{n}"),
            Shape::Layered { layers, width } => format!("layered-{layers}x{width}"),
            Shape::FanOutIn { width } => format!("fan-1-{width}-1"),
            Shape::Sparse { layers, width } => format!("layered-{layers}x{width}-sparse"),
        }
    }

    /// The layers of node names, for whoever builds the same graph elsewhere.
    pub fn layers(self) -> Vec<Vec<String>> {
        match self {
            Shape::Chain { n } => (0..n).map(|i| vec![format!("n{i}")]).collect(),
            Shape::Layered { layers, width } | Shape::Sparse { layers, width } => {
                (0..layers).map(|l| (0..width).map(|w| format!("n{l}_{w}")).collect()).collect()
            }
            Shape::FanOutIn { width } => {
                vec![vec!["src".to_string()], (0..width).map(|w| format!("m{w}")).collect(), vec!["sink".to_string()]]
            }
        }
    }

    /// Every node with the nodes it runs after, in layer order.
    pub fn graph(self) -> Vec<(String, Vec<String>)> {
        let layers = self.layers();
        let mut out = Vec::with_capacity(self.nodes());
        for (l, layer) in layers.iter().enumerate() {
            for (w, id) in layer.iter().enumerate() {
                let after = match (self, l.checked_sub(1)) {
                    (_, None) => Vec::new(),
                    (Shape::Sparse { width, .. }, Some(p)) => {
                        let mut picks = vec![w, (w + 1) % width];
                        if l % 2 == w % 2 {
                            picks.push((w + width / 2) % width);
                        }
                        let mut after: Vec<String> = Vec::with_capacity(3);
                        for i in picks {
                            if !after.contains(&layers[p][i]) {
                                after.push(layers[p][i].clone());
                            }
                        }
                        after
                    }
                    (_, Some(p)) => layers[p].clone(),
                };
                out.push((id.clone(), after));
            }
        }
        out
    }

    /// The flow as TOML: trivial nodes, no context, each after its predecessors in [`Shape::graph`].
    pub fn flow_toml(self, expected_tokens: u32) -> String {
        let mut s = format!("[flow]\nname = \"{}\"\ninput = \"go\"\n", self.name());
        for (id, after) in self.graph() {
            let after = after.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(",");
            let _ = write!(
                s,
                "[[node]]\nid = \"{id}\"\nkind = \"generate\"\ncomplexity = 1\nprompt = \"step\"\nexpected_tokens = {expected_tokens}\ncontext = []\nafter = [{after}]\n"
            );
        }
        s
    }

    /// The graph as JSON, `{"name": …, "nodes": [{"id": …, "after": […]}, …]}`, for building the
    /// same graph in another framework.
    pub fn graph_json(self) -> String {
        let nodes: Vec<serde_json::Value> =
            self.graph().into_iter().map(|(id, after)| serde_json::json!({ "id": id, "after": after })).collect();
        serde_json::json!({ "name": self.name(), "nodes": nodes }).to_string()
    }

    pub fn flow(self, expected_tokens: u32) -> Arc<Flow> {
        let src = Source::new(self.name(), self.flow_toml(expected_tokens));
        // The generator only writes valid flows; a failure here is a bug worth a loud message.
        Arc::new(parse_flow(&src).map(|(f, _)| f).unwrap_or_else(|e| panic!("generated flow {} is invalid: {e}", self.name())))
    }
}

/// The catalog entry of `instant`, as a `--catalog` file for `baton run`.
pub const INSTANT_MODEL_TOML: &str = "[[model]]\nid = \"instant\"\nprovider = \"sim\"\ninput_per_mtok = 1\noutput_per_mtok = 1\ncontext_window = 1000000\nsim = { ttft_ms = 0, tokens_per_second = 0, prefill_tokens_per_second = 0, capability = 10, error_rate = 0 }\n";

/// The built-in catalog plus `instant`: a simulated model with no latency and no faults, so a
/// run measures the engine alone.
pub fn instant_catalog() -> Arc<Catalog> {
    let extra = Source::new("<instant>", INSTANT_MODEL_TOML);
    Arc::new(Catalog::parse(&extra, Some(&Catalog::builtin())).map(|(c, _)| c).unwrap_or_else(|_| Catalog::builtin()))
}

/// A strategy running every node on `model`, parallel with no limit, as TOML.
pub fn strategy_toml(model: &str) -> String {
    format!("[strategy]\nname = \"bench\"\ndefault_model = \"{model}\"\nschedule = \"parallel\"\n")
}

/// One model for every node, parallel with no limit.
pub fn strategy(catalog: &Catalog, model: &str) -> Arc<Strategy> {
    let src = Source::new("<bench strategy>", strategy_toml(model));
    Arc::new(Strategy::parse(&src, catalog).map(|(s, _)| s).unwrap_or_else(|e| panic!("bench strategy: {e}")))
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// The four shapes the engine benchmark and the peer comparison use.
pub const STANDARD: [Shape; 4] = [
    Shape::Chain { n: 200 },
    Shape::Layered { layers: 10, width: 10 },
    Shape::FanOutIn { width: 1000 },
    Shape::Layered { layers: 10, width: 100 },
];

/// The six shapes of the LangGraph comparison (issue 19): chain 200, sparse layered 10×10,
/// layered 10×100, 1 → 1000 → 1, chain 10,000, 1 → 10,000 → 1.
pub const PEER: [Shape; 6] = [
    Shape::Chain { n: 200 },
    Shape::Sparse { layers: 10, width: 10 },
    Shape::Layered { layers: 10, width: 100 },
    Shape::FanOutIn { width: 1000 },
    Shape::Chain { n: 10_000 },
    Shape::FanOutIn { width: 10_000 },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_nodes_wait_for_two_or_three_of_the_layer_before_and_every_node_is_waited_for() {
        let shape = Shape::Sparse { layers: 10, width: 10 };
        let graph = shape.graph();
        assert_eq!(graph.len(), 100);
        let (mut two, mut three) = (0, 0);
        for (i, (id, after)) in graph.iter().enumerate() {
            let layer = i / 10;
            if layer == 0 {
                assert!(after.is_empty(), "{id}");
                continue;
            }
            match after.len() {
                2 => two += 1,
                3 => three += 1,
                n => panic!("{id} waits for {n} nodes"),
            }
            assert!(after.iter().all(|a| a.starts_with(&format!("n{}_", layer - 1))), "{id} after {after:?}");
        }
        assert_eq!((two, three), (45, 45));
        // Each node of layers 0..9 is some node's predecessor, so layer 9 alone ends the graph.
        for (id, _) in &graph[..90] {
            assert!(graph.iter().any(|(_, after)| after.contains(id)), "{id} is waited for by nobody");
        }
    }

    #[test]
    fn every_peer_shape_parses_to_its_graph() {
        for shape in PEER {
            let flow = shape.flow(1);
            let graph = shape.graph();
            assert_eq!(flow.nodes.len(), shape.nodes(), "{shape}");
            assert_eq!(graph.len(), shape.nodes(), "{shape}");
            let json: serde_json::Value = serde_json::from_str(&shape.graph_json()).expect("json");
            assert_eq!(json["nodes"].as_array().map(Vec::len), Some(shape.nodes()), "{shape}");
        }
    }
}

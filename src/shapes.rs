//! Synthetic flows of known shapes, for benchmarks and the peer comparison: a chain, layered
//! DAGs (every node depends on every node of the layer before), and one-to-N-to-one.

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
}

impl Shape {
    pub fn nodes(self) -> usize {
        match self {
            Shape::Chain { n } => n,
            Shape::Layered { layers, width } => layers * width,
            Shape::FanOutIn { width } => width + 2,
        }
    }

    pub fn name(self) -> String {
        match self {
            Shape::Chain { n } => format!("chain-{n}"),
            Shape::Layered { layers, width } => format!("layered-{layers}x{width}"),
            Shape::FanOutIn { width } => format!("fan-1-{width}-1"),
        }
    }

    /// The layers of node names, for whoever builds the same graph elsewhere.
    pub fn layers(self) -> Vec<Vec<String>> {
        match self {
            Shape::Chain { n } => (0..n).map(|i| vec![format!("n{i}")]).collect(),
            Shape::Layered { layers, width } => (0..layers).map(|l| (0..width).map(|w| format!("n{l}_{w}")).collect()).collect(),
            Shape::FanOutIn { width } => {
                vec![vec!["src".to_string()], (0..width).map(|w| format!("m{w}")).collect(), vec!["sink".to_string()]]
            }
        }
    }

    /// The flow as TOML: trivial nodes, no context, each after the whole previous layer.
    pub fn flow_toml(self, expected_tokens: u32) -> String {
        let mut s = format!("[flow]\nname = \"{}\"\ninput = \"go\"\n", self.name());
        let layers = self.layers();
        for (l, layer) in layers.iter().enumerate() {
            let after = if l == 0 { String::new() } else { layers[l - 1].iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(",") };
            for id in layer {
                let _ = write!(
                    s,
                    "[[node]]\nid = \"{id}\"\nkind = \"generate\"\ncomplexity = 1\nprompt = \"step\"\nexpected_tokens = {expected_tokens}\ncontext = []\nafter = [{after}]\n"
                );
            }
        }
        s
    }

    pub fn flow(self, expected_tokens: u32) -> Arc<Flow> {
        let src = Source::new(self.name(), self.flow_toml(expected_tokens));
        // The generator only writes valid flows; a failure here is a bug worth a loud message.
        Arc::new(parse_flow(&src).map(|(f, _)| f).unwrap_or_else(|e| panic!("generated flow {} is invalid: {e}", self.name())))
    }
}

/// The built-in catalog plus `instant`: a simulated model with no latency and no faults, so a
/// run measures the engine alone.
pub fn instant_catalog() -> Arc<Catalog> {
    let extra = Source::new(
        "<instant>",
        "[[model]]\nid = \"instant\"\nprovider = \"sim\"\ninput_per_mtok = 1\noutput_per_mtok = 1\ncontext_window = 1000000\nsim = { ttft_ms = 0, tokens_per_second = 0, prefill_tokens_per_second = 0, capability = 10, error_rate = 0 }\n",
    );
    Arc::new(Catalog::parse(&extra, Some(&Catalog::builtin())).map(|(c, _)| c).unwrap_or_else(|_| Catalog::builtin()))
}

/// One model for every node, parallel with no limit.
pub fn strategy(catalog: &Catalog, model: &str) -> Arc<Strategy> {
    let src =
        Source::new("<bench strategy>", format!("[strategy]\nname = \"bench\"\ndefault_model = \"{model}\"\nschedule = \"parallel\"\n"));
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

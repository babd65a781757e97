//! The `judge` check: a catalog model grades an output against a rubric and answers PASS or
//! FAIL on its last line. Its calls are evaluation cost, reported apart from the flow's cost,
//! and cached: the same model, rubric, task and output are graded once per process.
//!
//! Simulated judges are the simulator's (they say PASS about four times in five, whatever the
//! output): they exercise the plumbing and the cost, not the grading.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use futures::StreamExt;

use crate::diag::Source;
use crate::event::Origin;
use crate::flow::{Flow, parse_flow};
use crate::load::Task;
use crate::money::Money;
use crate::provider::rng::hash_str;
use crate::provider::{CallRequest, Chunk, OwnedRequest, Providers, sim};
use crate::routing::{Catalog, ProviderKind, Usage};

const JUDGE_FLOW: &str = r#"
[flow]
name = "judge"
input = ""

[[node]]
id = "judge"
kind = "classification"
complexity = 4
prompt = "{{input}}"
expected_tokens = 30
max_tokens = 300
sim = { labels = ["PASS", "FAIL"], weights = [0.8, 0.2] }
"#;

type Grade = (bool, Option<String>);

/// Grades outputs with catalog models, once each.
pub struct Judge {
    catalog: Arc<Catalog>,
    providers: Providers,
    flow: Option<Arc<Flow>>,
    seed: u64,
    cache: Mutex<HashMap<u64, Grade>>,
    calls: Mutex<(u64, Money)>,
}

impl Judge {
    pub fn new(catalog: Arc<Catalog>, providers: Providers, seed: u64) -> Judge {
        let flow = parse_flow(&Source::new("<judge>", JUDGE_FLOW)).ok().map(|(f, _)| Arc::new(f));
        Judge { catalog, providers, flow, seed, cache: Mutex::new(HashMap::new()), calls: Mutex::new((0, Money::ZERO)) }
    }

    /// Calls made and what they cost.
    pub fn spent(&self) -> (u64, Money) {
        *self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The prompt the judge reads.
    pub fn prompt(task: &Task, rubric: &str, output: &str) -> String {
        let expected = task.expected.as_ref().map_or(String::new(), |e| {
            format!(
                "Expected answer: {}\n\n",
                match e {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                }
            )
        });
        format!(
            "You are grading an answer against a rubric.\n\nRubric: {rubric}\n\nTask: {}\n\n{expected}Answer to grade:\n{output}\n\nGive one sentence of reasons, then on the last line exactly PASS or FAIL.",
            task.input
        )
    }

    /// Whether `output` passes `rubric` in `model`'s judgement, why, and what this grading cost
    /// (nothing when it was graded before).
    pub fn grade(&self, task: &Task, rubric: &str, model: &str, output: &str) -> (bool, Option<String>, Money) {
        let prompt = Judge::prompt(task, rubric, output);
        let key = hash_str(&format!("{model}\u{0}{prompt}"));
        if let Some((p, d)) = self.cache.lock().unwrap_or_else(PoisonError::into_inner).get(&key).cloned() {
            return (p, d, Money::ZERO);
        }
        let (Some(flow), Some(index)) = (self.flow.as_ref(), self.catalog.index_of(model)) else {
            return (false, Some(format!("judge model '{model}' is not in the catalog")), Money::ZERO);
        };
        let m = &self.catalog.models[index];
        let parts: Arc<[(Origin, Arc<str>)]> = Arc::from(vec![(Origin::Prompt, Arc::<str>::from(prompt.as_str()))]);
        let req = CallRequest {
            catalog: &self.catalog,
            model: index,
            flow,
            node: 0,
            item: None,
            input_tokens: u64::from(crate::tokens::count(&prompt)),
            parts: &parts,
            max_tokens: 300,
            seed: self.seed,
            task: hash_str(&prompt),
            try_no: 1,
        };
        let answer = if self.providers.is_simulated() || m.provider == ProviderKind::Sim {
            let plan = sim::plan(&req);
            Ok((plan.text, plan.usage))
        } else {
            match self.providers.for_model(m) {
                Some(p) => call_blocking(p.clone(), req.keep()),
                None => Err((format!("no provider for '{}' models is configured", m.provider), None)),
            }
        };
        let (grade, usage) = match answer {
            Ok((text, usage)) => (verdict(&text), Some(usage)),
            Err((e, usage)) => ((false, Some(format!("the judge call failed: {e}"))), usage),
        };
        let cost = usage.map_or(Money::ZERO, |u| m.cost(&u).total());
        {
            let mut c = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
            c.0 += 1;
            c.1 += cost;
        }
        self.cache.lock().unwrap_or_else(PoisonError::into_inner).insert(key, grade.clone());
        (grade.0, grade.1, cost)
    }
}

/// PASS or FAIL from the last line that says either.
fn verdict(text: &str) -> Grade {
    let reason = text.lines().map(str::trim).find(|l| !l.is_empty()).map(|l| l.chars().take(120).collect::<String>());
    for line in text.lines().rev() {
        let l = line.trim().to_ascii_uppercase();
        if l.contains("FAIL") {
            return (false, reason);
        }
        if l.contains("PASS") {
            return (true, reason);
        }
    }
    (false, Some("the judge answered neither PASS nor FAIL".into()))
}

type CallResult = Result<(String, Usage), (String, Option<Usage>)>;

/// One live call on a runtime of its own (on a thread of its own, so it can be made from inside
/// another runtime, or from a run on virtual time).
fn call_blocking(p: Arc<dyn crate::provider::Provider>, req: OwnedRequest) -> CallResult {
    let input = req.input_tokens;
    let handle = std::thread::spawn(move || -> CallResult {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| (e.to_string(), None))?;
        rt.block_on(async move {
            let mut stream = p.call(req.request());
            let (mut text, mut usage) = (String::new(), None);
            while let Some(chunk) = stream.next().await {
                match chunk {
                    Ok(Chunk::Text { text: t, .. }) => text.push_str(&t),
                    Ok(Chunk::Usage(u)) => usage = Some(u),
                    Ok(_) => {}
                    Err(e) => return Err((e.message, e.usage)),
                }
            }
            let usage = usage.unwrap_or(Usage { input, output: u64::from(crate::tokens::count(&text)), ..Usage::default() });
            Ok((text, usage))
        })
    });
    handle.join().unwrap_or_else(|_| Err(("the judge thread panicked".into(), None)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_line_that_says_pass_or_fail_decides() {
        assert!(verdict("Covers both points.\nPASS").0);
        assert!(!verdict("Misses the refund.\nFAIL").0);
        assert!(!verdict("I would PASS this, but\nFAIL").0);
        let (p, d) = verdict("no idea");
        assert!(!p);
        assert!(d.expect("detail").contains("neither"));
    }
}

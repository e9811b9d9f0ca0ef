//! Shrinks a failing program to a short one that fails the same invariant.

use std::time::Duration;

use crate::program::Program;
use crate::run::{Failure, Runner};

/// Runs `prog` once, turning a panic into a failure.
pub fn run_once(prog: &Program, budget: Duration) -> Result<crate::Outcome, Failure> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Runner::run(prog, budget))) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic".into());
            Err(Failure {
                invariant: "panic",
                detail: msg,
                step: None,
            })
        }
    }
}

/// Removes actions (chunks, then one at a time) while the program still fails the
/// invariant `invariant`; each candidate gets `tries` runs, since the kernel's
/// timing varies. Returns the smallest program found and its failure.
pub fn minimize(
    prog: &Program,
    invariant: &str,
    budget: Duration,
    tries: usize,
    mut progress: impl FnMut(&Program),
) -> (Program, Option<Failure>) {
    let fails = |p: &Program| -> Option<Failure> {
        (0..tries).find_map(|_| {
            run_once(p, budget)
                .err()
                .filter(|f| f.invariant == invariant)
        })
    };
    let mut best = prog.clone();
    let mut best_failure = fails(&best);
    if best_failure.is_none() {
        return (best, None);
    }
    // The actions after the failing step do not matter.
    if let Some(step) = best_failure.as_ref().and_then(|f| f.step) {
        let mut cut = best.clone();
        cut.actions.truncate(step + 1);
        if let Some(f) = fails(&cut) {
            best = cut;
            best_failure = Some(f);
            progress(&best);
        }
    }
    let mut chunk = best.actions.len().div_ceil(2).max(1);
    loop {
        let mut i = 0;
        let mut shrunk = false;
        while i < best.actions.len() {
            let mut cand = best.clone();
            let end = (i + chunk).min(cand.actions.len());
            cand.actions.drain(i..end);
            match fails(&cand) {
                Some(f) => {
                    best = cand;
                    best_failure = Some(f);
                    shrunk = true;
                    progress(&best);
                }
                None => i += chunk,
            }
        }
        if chunk == 1 && !shrunk {
            break;
        }
        if !shrunk {
            chunk = chunk.div_ceil(2);
        }
    }
    (best, best_failure)
}

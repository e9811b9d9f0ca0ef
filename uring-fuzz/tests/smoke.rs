//! A short fuzzing run: programs of every ring setup, against the running kernel,
//! must keep every invariant of the model.

use std::time::Duration;

use uring_fuzz::minimize::run_once;
use uring_fuzz::{Program, Setup};

#[test]
fn forty_programs_keep_the_model() {
    uring_fuzz::run::prepare_process();
    let mut setups = std::collections::HashSet::new();
    for seed in 0..40 {
        let prog = Program::generate(seed, 60);
        setups.insert(std::mem::discriminant(&prog.setup));
        if let Err(f) = run_once(&prog, Duration::from_secs(30)) {
            panic!("program seed {seed:#x} failed: {f}\n{prog}");
        }
    }
    // The seeds above cover every setup.
    let all = [
        Setup::Default { entries: 1 },
        Setup::TinyCq { entries: 1, cq: 1 },
        Setup::TinySq { entries: 1 },
        Setup::Sqpoll { entries: 1 },
        Setup::DeferTaskrun { entries: 1 },
    ];
    for s in all {
        assert!(
            setups.contains(&std::mem::discriminant(&s)),
            "no program with {s:?}"
        );
    }
}

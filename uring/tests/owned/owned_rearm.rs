//! Operations an `OwnedRing` queues from inside its completion loops
//! (`Completions::submit_op`, `CompletionsOf::submit_op`): reads started again
//! with the buffer of the read that just finished, operations that finish while
//! the loop is still taking completions, one the ring refuses, one of another
//! type than the loop's, and pushes on a full queue on every kind of ring and
//! while the kernel holds completions it could not post. Each test checks what
//! the kernel did: bytes read at each offset, which buffers were used, keys,
//! errnos, and how many operations are in flight.

use crate::support;

use std::collections::{HashMap, HashSet};

use uring::owned::{OpKey, OwnedRing, ops};

const BLOCK: usize = 512;

/// A file of `blocks` blocks of [`BLOCK`] bytes, block `i` filled with the byte
/// `i`.
fn striped_file(blocks: usize) -> std::fs::File {
    support::striped_file("owned-rearm", blocks, BLOCK)
}

/// How a test's completion loop takes outputs.
#[derive(Clone, Copy, Debug)]
enum Loop {
    /// `completions`, each output downcast.
    Any,
    /// `completions_of::<ops::Read<Vec<u8>>>`.
    Of,
}

/// Four reads in flight over a 64-block file, each started again from the
/// completion loop (both kinds) with the buffer of the read that finished:
/// every block is read once, each output holds its block's bytes, the same four
/// buffers carry all the reads, and nothing is in flight at the end.
#[test]
fn reads_started_again_from_either_completion_loop_read_every_block_once() {
    const BLOCKS: usize = 64;
    for how in [Loop::Any, Loop::Of] {
        let mut ring = OwnedRing::new(4).unwrap();
        let file = ring.hold_fd(striped_file(BLOCKS)).unwrap();
        let mut block_of = HashMap::new();
        let mut buffers = Vec::new();
        let mut next = 0usize;
        for _ in 0..4 {
            let buf = vec![0xee; BLOCK];
            buffers.push(buf.as_ptr() as usize);
            let id = ring
                .submit_op(ops::Read::new(file, buf, (next * BLOCK) as u64))
                .unwrap();
            block_of.insert(id.key(), next);
            next += 1;
        }
        let mut read = vec![0u32; BLOCKS];
        // What a loop does with one output: checks it, and starts the next
        // read with its buffer (through `submit`) while blocks are left.
        let mut on_output =
            |key: OpKey,
             n: std::io::Result<usize>,
             buf: Vec<u8>,
             submit: &mut dyn FnMut(ops::Read<Vec<u8>>) -> OpKey| {
                let block = block_of.remove(&key).expect("a key of a read in flight");
                assert_eq!(n.unwrap(), BLOCK, "{how:?}, block {block}: a whole block");
                assert_eq!(
                    buf, [block as u8; BLOCK],
                    "{how:?}, block {block}: its bytes"
                );
                assert!(
                    buffers.contains(&(buf.as_ptr() as usize)),
                    "{how:?}: one of the four"
                );
                read[block] += 1;
                if next < BLOCKS {
                    let key = submit(ops::Read::new(file, buf, (next * BLOCK) as u64));
                    block_of.insert(key, next);
                    next += 1;
                }
            };
        while ring.in_flight() > 0 {
            ring.submit_and_wait(1).unwrap();
            match how {
                Loop::Any => {
                    let mut done = ring.completions();
                    while let Some(c) = done.next() {
                        let key = c.key();
                        let (n, buf) = c.downcast::<ops::Read<Vec<u8>>>().unwrap();
                        on_output(key, n, buf, &mut |op| done.submit_op(op).unwrap().key());
                    }
                }
                Loop::Of => {
                    let mut done = ring.completions_of::<ops::Read<Vec<u8>>>();
                    while let Some((key, (n, buf))) = done.next() {
                        on_output(key, n, buf, &mut |op| done.submit_op(op).unwrap().key());
                    }
                }
            }
        }
        assert_eq!(read, vec![1; BLOCKS], "{how:?}: each block read once");
        assert!(block_of.is_empty(), "{how:?}");
        assert_eq!(ring.in_flight(), 0, "{how:?}");
    }
}

/// On a ring of one submission entry, a completion loop queues two NOPs: the
/// second finds the queue full, so the first is submitted to make room, and
/// (a NOP completes as it is submitted) the same loop yields it, by its key.
/// The second is queued, in flight, and finishes at the next submit.
#[test]
fn an_operation_queued_while_taking_completions_can_finish_in_the_same_pass() {
    let mut ring = OwnedRing::new(1).unwrap();
    let first = ring.submit_op(ops::Nop::new()).unwrap();
    ring.submit_and_wait(1).unwrap();
    let mut done = ring.completions();
    let c = done.next().expect("the first NOP's completion");
    assert_eq!(c.key(), first.key());
    assert_eq!(c.downcast::<ops::Nop>().unwrap().unwrap(), 0);
    let second = done.submit_op(ops::Nop::new()).unwrap();
    let third = done.submit_op(ops::Nop::new()).unwrap();
    let c = done
        .next()
        .expect("the second NOP, submitted to make room for the third");
    assert_eq!(c.key(), second.key());
    assert_eq!(c.downcast::<ops::Nop>().unwrap().unwrap(), 0);
    assert!(done.next().is_none(), "the third is only queued");
    assert_eq!(ring.in_flight(), 1);
    assert_eq!(ring.wait_for(third).unwrap().unwrap(), 0);
    assert_eq!(ring.in_flight(), 0);
}

/// A read queued from a `completions_of` loop that names a file another ring
/// holds comes back with `EBADF` and its buffer, untouched; a NOP queued from
/// the same loop (not of the loop's type) is not yielded by it, and waits for
/// `wait_for`; the loop yields both reads still posted.
#[test]
fn a_refused_operation_comes_back_and_one_of_another_type_waits_for_its_owner() {
    let mut ring = OwnedRing::new(4).unwrap();
    let file = ring.hold_fd(striped_file(2)).unwrap();
    let mut other = OwnedRing::new(2).unwrap();
    let foreign = other.hold_fd(striped_file(1)).unwrap();
    let a = ring
        .submit_op(ops::Read::new(file, vec![0; BLOCK], 0))
        .unwrap();
    let b = ring
        .submit_op(ops::Read::new(file, vec![0; BLOCK], BLOCK as u64))
        .unwrap();
    ring.submit_and_wait(2).unwrap();
    let mut done = ring.completions_of::<ops::Read<Vec<u8>>>();
    let mut seen = Vec::new();
    let mut nop = None;
    while let Some((key, (n, buf))) = done.next() {
        assert_eq!(n.unwrap(), BLOCK);
        seen.push((key, buf[0]));
        if seen.len() == 1 {
            let refused = done
                .submit_op(ops::Read::new(foreign, vec![9; 3], 0))
                .unwrap_err();
            assert_eq!(uring::error::errno(&refused.error), Some(libc::EBADF));
            assert_eq!(refused.op.into_buf(), [9; 3], "the buffer, untouched");
            nop = Some(done.submit_op(ops::Nop::new()).unwrap());
        }
    }
    seen.sort_by_key(|&(key, _)| key != a.key());
    assert_eq!(seen, [(a.key(), 0), (b.key(), 1)]);
    assert_eq!(ring.in_flight(), 1, "the NOP");
    assert_eq!(ring.wait_for(nop.unwrap()).unwrap().unwrap(), 0);
    assert_eq!(ring.in_flight(), 0);
}

/// The `TypedRing` test of this name (`owned_typed_rearm`), on an `OwnedRing`:
/// twelve NOPs through two submission entries, ten queued from the
/// completion loop, on each kind of ring the kernel sets up
/// ([`support::queue_kinds`]); each completes once, by its key.
#[test]
fn operations_queued_from_the_loop_on_a_full_queue_all_complete_on_every_kind_of_ring() {
    const TEST: &str =
        "operations_queued_from_the_loop_on_a_full_queue_all_complete_on_every_kind_of_ring";
    for (kind, builder) in support::queue_kinds() {
        let Some(mut ring) =
            support::ring_of_kind(TEST, kind, OwnedRing::from_builder(builder(), 2))
        else {
            continue;
        };
        let mut pending = HashSet::new();
        for _ in 0..2 {
            pending.insert(ring.submit_op(ops::Nop::new()).unwrap().key());
        }
        let (mut queued, mut done) = (2, 0);
        while done < 12 {
            ring.submit_and_wait(1).unwrap();
            let mut completions = ring.completions();
            while let Some(c) = completions.next() {
                assert!(pending.remove(&c.key()), "{kind}: a key completed once");
                assert_eq!(c.downcast::<ops::Nop>().unwrap().unwrap(), 0, "{kind}");
                done += 1;
                for _ in 0..2 {
                    if queued < 12 {
                        let key = completions.submit_op(ops::Nop::new()).unwrap().key();
                        assert!(pending.insert(key), "{kind}: a new key");
                        queued += 1;
                    }
                }
            }
        }
        assert!(pending.is_empty(), "{kind}");
        assert_eq!(ring.in_flight(), 0, "{kind}");
    }
}

/// A ring whose completion queue (two entries) overflows: six NOPs (two of
/// them raw entries) finish while nothing takes their completions, so the
/// kernel keeps four it could not post. A completion loop (both kinds) then
/// queues NOPs through a one-entry submission queue, so that a push often
/// finds it full and submits to make room while the kernel holds completions.
/// A kernel that refuses that submit until it can post them (`EBUSY`) gives
/// the NOP back with `EBUSY`, and the test queues it again once the loop is
/// done; the loop never processes completions behind its own back. Every NOP
/// is yielded exactly once, by its key, each raw entry's completion comes
/// once, and nothing is left in flight.
#[test]
fn a_full_queue_while_the_completion_queue_overflows_loses_and_repeats_nothing() {
    for how in [Loop::Any, Loop::Of] {
        let builder = uring::Ring::builder().cq_entries(2);
        let mut ring = OwnedRing::from_builder(builder, 1).unwrap();
        let mut pending = HashSet::new();
        for i in 0..6u64 {
            if i % 3 == 1 {
                let raw = uring::op::Nop::new().build().user_data(i);
                // SAFETY: a NOP names no memory, and its user data is unique.
                unsafe { ring.push_raw(&raw) }.unwrap();
            } else {
                pending.insert(ring.submit_op(ops::Nop::new()).unwrap().key());
            }
            ring.submit().unwrap();
        }
        let (mut queued, mut yielded, mut refused) = (4, 0, 0);
        while !pending.is_empty() || queued < 12 {
            // Queues one more NOP, unless the kernel refuses for now.
            let mut on_key =
                |key: OpKey, submit: &mut dyn FnMut() -> Result<OpKey, std::io::Error>| {
                    assert!(pending.remove(&key), "{how:?}: a key yielded once");
                    yielded += 1;
                    for _ in 0..2 {
                        if queued < 12 {
                            match submit() {
                                Ok(key) => {
                                    assert!(pending.insert(key), "{how:?}: a new key");
                                    queued += 1;
                                }
                                Err(e) => {
                                    assert_eq!(e.raw_os_error(), Some(libc::EBUSY), "{how:?}");
                                    refused += 1;
                                }
                            }
                        }
                    }
                };
            match how {
                Loop::Any => {
                    let mut done = ring.completions();
                    while let Some(c) = done.next() {
                        let key = c.key();
                        assert_eq!(c.downcast::<ops::Nop>().unwrap().unwrap(), 0);
                        on_key(key, &mut || {
                            let id = done.submit_op(ops::Nop::new()).map_err(|e| e.error)?;
                            Ok(id.key())
                        });
                    }
                }
                Loop::Of => {
                    let mut done = ring.completions_of::<ops::Nop>();
                    while let Some((key, res)) = done.next() {
                        assert_eq!(res.unwrap(), 0);
                        on_key(key, &mut || {
                            let id = done.submit_op(ops::Nop::new()).map_err(|e| e.error)?;
                            Ok(id.key())
                        });
                    }
                }
            }
            if pending.is_empty() && queued < 12 {
                // All refused: queue one outside the loop.
                pending.insert(ring.submit_op(ops::Nop::new()).unwrap().key());
                queued += 1;
            }
            if !pending.is_empty() {
                // Bounded: were an output left unyielded where no loop looks,
                // this would otherwise wait for ever.
                ring.submit_and_wait_timeout(1, std::time::Duration::from_secs(10))
                    .unwrap_or_else(|e| panic!("{how:?}: {pending:?} never came: {e}"));
            }
        }
        println!(
            "{how:?}: {refused} pushes refused with EBUSY on {}",
            support::kernel_release()
        );
        assert_eq!((queued, yielded), (12, 12), "{how:?}");
        assert_eq!(ring.in_flight(), 0, "{how:?}");
        let mut raw: Vec<u64> = ring.raw_completions().map(|c| c.user_data()).collect();
        raw.sort();
        assert_eq!(raw, [1, 4], "{how:?}: each raw entry's completion, once");
    }
}

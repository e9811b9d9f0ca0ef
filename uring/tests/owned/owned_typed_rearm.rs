//! Operations a `TypedRing` queues from inside its completion loop
//! (`TypedCompletions::submit_op`): a read started again with the buffer of the
//! read that just finished, an operation that finishes while the loop is still
//! taking completions, and one the ring refuses. Each test checks what the
//! kernel did: bytes read at each offset, which buffers were used, keys and
//! errnos, and how many operations are in flight.

use crate::support;

use std::collections::HashMap;

use uring::owned::{OwnedRing, TypedRing, ops};

const BLOCK: usize = 512;

/// A file of `blocks` blocks of [`BLOCK`] bytes, block `i` filled with the byte
/// `i`.
fn striped_file(blocks: usize) -> std::fs::File {
    support::striped_file("typed-rearm", blocks, BLOCK)
}

/// Four reads in flight over a 64-block file, each started again from the
/// completion loop with the buffer of the read that finished: every block is
/// read once, each output holds its block's bytes, the same four buffers carry
/// all the reads, and nothing is in flight at the end.
#[test]
fn reads_started_again_from_the_completion_loop_read_every_block_once() {
    const BLOCKS: usize = 64;
    let mut ring = TypedRing::<ops::Read<Vec<u8>>>::new(4).unwrap();
    let file = ring.hold_fd(striped_file(BLOCKS)).unwrap();
    let mut block_of = HashMap::new();
    let mut buffers = Vec::new();
    let mut next = 0usize;
    for _ in 0..4 {
        let buf = vec![0xee; BLOCK];
        buffers.push(buf.as_ptr() as usize);
        let key = ring
            .submit_op(ops::Read::new(file, buf, (next * BLOCK) as u64))
            .unwrap();
        block_of.insert(key, next);
        next += 1;
    }
    let mut read = vec![0u32; BLOCKS];
    while ring.in_flight() > 0 {
        ring.submit_and_wait(1).unwrap();
        let mut done = ring.completions();
        while let Some((key, (n, buf))) = done.next() {
            let block = block_of.remove(&key).expect("a key of a read in flight");
            assert_eq!(n.unwrap(), BLOCK, "block {block}: a whole block read");
            assert_eq!(buf, [block as u8; BLOCK], "block {block}: its own bytes");
            assert!(
                buffers.contains(&(buf.as_ptr() as usize)),
                "one of the four buffers"
            );
            read[block] += 1;
            if next < BLOCKS {
                let key = done
                    .submit_op(ops::Read::new(file, buf, (next * BLOCK) as u64))
                    .unwrap();
                block_of.insert(key, next);
                next += 1;
            }
        }
    }
    assert_eq!(read, vec![1; BLOCKS], "each block read once");
    assert!(block_of.is_empty());
    assert_eq!(ring.in_flight(), 0);
}

/// On a ring of one submission entry, a completion loop queues two NOPs: the
/// second finds the queue full, so the first is submitted to make room, and
/// (a NOP completes as it is submitted) the same loop yields it, by its key.
/// The second is queued, in flight, and finishes at the next submit.
#[test]
fn an_operation_queued_while_taking_completions_can_finish_in_the_same_pass() {
    let mut ring = TypedRing::<ops::Nop>::new(1).unwrap();
    let first = ring.submit_op(ops::Nop::new()).unwrap();
    ring.submit_and_wait(1).unwrap();
    let mut done = ring.completions();
    let (key, res) = done.next().expect("the first NOP's completion");
    assert_eq!((key, res.unwrap()), (first, 0));
    let second = done.submit_op(ops::Nop::new()).unwrap();
    let third = done.submit_op(ops::Nop::new()).unwrap();
    let (key, res) = done
        .next()
        .expect("the second NOP, submitted to make room for the third");
    assert_eq!((key, res.unwrap()), (second, 0));
    assert!(done.next().is_none(), "the third is only queued");
    drop(done);
    assert_eq!(ring.in_flight(), 1);
    assert!(ring.is_in_flight(&third) && !ring.is_in_flight(&second));
    let (key, res) = ring.next_completion().unwrap();
    assert_eq!((key, res.unwrap()), (third, 0));
    assert_eq!(ring.in_flight(), 0);
}

/// A read queued from the completion loop that names a file another ring holds
/// comes back with `EBADF` and its buffer, untouched; the loop then goes on to
/// yield the completion still posted, and nothing is left in flight.
#[test]
fn an_operation_the_ring_refuses_comes_back_and_the_loop_goes_on() {
    let mut ring = TypedRing::<ops::Read<Vec<u8>>>::new(4).unwrap();
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
    let mut done = ring.completions();
    let mut seen = Vec::new();
    while let Some((key, (n, buf))) = done.next() {
        assert_eq!(n.unwrap(), BLOCK);
        seen.push((key, buf[0]));
        if seen.len() == 1 {
            let refused = done
                .submit_op(ops::Read::new(foreign, vec![9; 3], 0))
                .unwrap_err();
            assert_eq!(uring::error::errno(&refused.error), Some(libc::EBADF));
            assert_eq!(refused.op.into_buf(), [9; 3], "the buffer, untouched");
        }
    }
    drop(done);
    seen.sort_by_key(|&(key, _)| key != a);
    assert_eq!(seen, [(a, 0), (b, 1)]);
    assert_eq!(ring.in_flight(), 0);
}

/// Twelve NOPs through a ring of two submission entries, all but the first two
/// queued from the completion loop, two per completion, so that the queue is
/// often full and a push submits to make room: on a plain ring and, where the
/// kernel sets them up, on rings whose queue works otherwise (`SQ_REWIND`:
/// every submit starts again at slot 0; `SQE_MIXED`; `SQPOLL`). Each NOP
/// completes once, by its key, and nothing is left in flight.
#[test]
fn operations_queued_from_the_loop_on_a_full_queue_all_complete_on_every_kind_of_ring() {
    const TEST: &str =
        "operations_queued_from_the_loop_on_a_full_queue_all_complete_on_every_kind_of_ring";
    for (kind, builder) in support::queue_kinds() {
        let Some(mut ring) = support::ring_of_kind(
            TEST,
            kind,
            TypedRing::<ops::Nop>::from_builder(builder(), 2),
        ) else {
            continue;
        };
        let mut pending = std::collections::HashSet::new();
        for _ in 0..2 {
            pending.insert(ring.submit_op(ops::Nop::new()).unwrap());
        }
        let (mut queued, mut done) = (2, 0);
        while done < 12 {
            ring.submit_and_wait(1).unwrap();
            let mut completions = ring.completions();
            while let Some((key, res)) = completions.next() {
                assert_eq!(res.unwrap(), 0, "{kind}");
                assert!(pending.remove(&key), "{kind}: a key completed once");
                done += 1;
                for _ in 0..2 {
                    if queued < 12 {
                        let key = completions.submit_op(ops::Nop::new()).unwrap();
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

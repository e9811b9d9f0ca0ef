//! Typed builders, one per io_uring opcode.

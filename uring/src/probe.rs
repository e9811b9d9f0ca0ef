//! Which opcodes the running kernel supports.

//! Submission queue entries as values.

//! The fuzz bodies, shared with the stable replay test (`../tests/fuzz_replay.rs`): the files in
//! `fuzz_targets/` only hand libFuzzer's input to them.

#[path = "../../tests/fuzz_bodies/mod.rs"]
mod bodies;

pub use bodies::*;

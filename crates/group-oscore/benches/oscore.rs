//! Criterion benchmarks of OSCORE and Group OSCORE (filled in below).
fn main() {}

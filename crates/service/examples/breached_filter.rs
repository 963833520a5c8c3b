//! Builds `data/breached-passwords.bin` from a list of passwords, one a line (see
//! `data/README.md` for where the list comes from):
//!
//! ```sh
//! cargo run --release -p wardline-service --example breached_filter -- passwords.txt \
//!     crates/service/data/breached-passwords.bin
//! ```
//!
//! Lines shorter than 12 characters are skipped (the policy refuses them anyway); case is
//! ignored, so `Password1234` and `password1234` are one entry.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::BufRead;

use wardline_service::breached;
use xorf::{BinaryFuse16, Filter};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (input, output) = match args.as_slice() {
        [_, i, o] => (i.clone(), o.clone()),
        _ => {
            eprintln!("usage: breached_filter PASSWORDS.txt OUT.bin");
            std::process::exit(2);
        }
    };
    let file = std::fs::File::open(&input).expect("open the password list");
    let mut keys: Vec<u64> = std::io::BufReader::new(file)
        .split(b'\n')
        .map(|line| line.expect("read a line"))
        .filter_map(|bytes| String::from_utf8(bytes).ok())
        .map(|line| line.trim_end_matches('\r').to_owned())
        .filter(|p| p.chars().count() >= 12)
        .map(|p| breached::key(&p))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let filter = BinaryFuse16::try_from(&keys).expect("build the filter");
    assert!(keys.iter().all(|k| filter.contains(k)));
    let entries = u32::try_from(keys.len()).expect("fewer than 4 billion entries");
    std::fs::write(&output, breached::encode(&filter, entries)).expect("write the filter");
    println!("{entries} passwords, {} bytes", 32 + filter.fingerprints.len() * 2);
}

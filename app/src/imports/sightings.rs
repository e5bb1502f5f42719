//! Keys seen before with another companion, in memory that does not grow with the file: which
//! ballot numbers of a first file more than one voter may name, which tracking codes more than
//! one ballot number may carry. Such sharing is rare, and asking the database about every number
//! and code of a file costs a hash of the whole file each (two thirds of the first load's
//! questions); asked only about the keys named here, it costs a scan.
//!
//! Each key (a 64-bit hash of the string, with keys of the hasher's own drawn at random for each
//! import, so that no file can be made to collide) marks two bits of a fixed table (a Bloom
//! filter: a key never seen leaves a bit of its two unmarked, so "never seen" is certain; both
//! bits on one cache line of the table, which is read once), and leaves its companion (the
//! voter's hash, the number's) in a slot of its own, which a later key may take. A row is named
//! when its key was seen with another companion (its slot says so), or may have been (the slot
//! was taken since, and the bits are marked). It never leaves a key out, barring two strings of
//! one 64-bit hash (one chance in 2^64): the first row of a key that names a second companion
//! finds, in the key's slot, the last row of the key, whose companion was the first; or a slot
//! taken since, and marked bits. A key named wrongly only costs the exact question about it.
//!
//! Rows of one key close together in the file (a file sorted by voter or ballot) are told
//! apart by the slots; rows of a key far apart (a file sorted by date, whose ballots come back
//! in each of their statuses), once the slot is taken, are named by the bits: for such a file
//! the exact question is asked of most rows, and costs about what it did of every row.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

/// Bits of the filter: 2^26 (8 MiB). A million keys leave about one in a thousand unseen keys
/// looking seen; ten million, one in fifteen.
const BITS: u32 = 26;
/// Slots of last companions: 2^18 (4 MiB).
const SLOTS: usize = 1 << 18;

/// 512 bits of the filter, on a cache line of their own.
#[derive(Clone, Copy)]
#[repr(align(64))]
struct Line([u64; 8]);

pub(super) struct Sightings {
    hasher: RandomState,
    bits: Vec<Line>,
    /// (key, companion) of the last key seen at each slot; key 0 is an empty slot.
    last: Vec<(u64, u64)>,
}

impl Sightings {
    pub fn new() -> Self {
        Self {
            hasher: RandomState::new(),
            bits: vec![Line([0; 8]); 1 << (BITS - 9)],
            last: vec![(0, 0); SLOTS],
        }
    }

    /// Records `key` seen with `companion`; true when it was seen before with another, or may
    /// have been.
    pub fn again(&mut self, key: &str, companion: &str) -> bool {
        // 0 is an empty slot's.
        let key = self.hasher.hash_one(key).max(1);
        let companion = self.hasher.hash_one(companion);
        let slot = (key as usize) & (SLOTS - 1);
        let (last, with) = self.last[slot];
        let named = if last == key {
            with != companion
        } else {
            self.marked(key)
        };
        self.last[slot] = (key, companion);
        self.mark(key);
        named
    }

    /// The key's line of the table (its low bits) and its two bits there (its high bits).
    fn positions(key: u64) -> (usize, [usize; 2]) {
        let line = (key & ((1u64 << (BITS - 9)) - 1)) as usize;
        (
            line,
            [((key >> 40) & 511) as usize, ((key >> 49) & 511) as usize],
        )
    }

    fn marked(&self, key: u64) -> bool {
        let (line, bits) = Self::positions(key);
        let words = &self.bits[line].0;
        bits.iter().all(|&b| words[b >> 6] & (1 << (b & 63)) != 0)
    }

    fn mark(&mut self, key: u64) {
        let (line, bits) = Self::positions(key);
        let words = &mut self.bits[line].0;
        for b in bits {
            words[b >> 6] |= 1 << (b & 63);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Sightings;

    #[test]
    fn rows_of_one_key_and_companion_together_are_never_named() {
        // A file sorted by ballot: each number's rows one after another, with the same voter.
        // Its first row may look seen (the filter's rare false sightings); the others never.
        let mut s = Sightings::new();
        for i in 0..300_000 {
            let named = s.again(&format!("B-{}", i / 3), &format!("V-{}", i / 3));
            assert!(i % 3 == 0 || !named, "row {i}");
        }
    }

    #[test]
    fn a_key_seen_with_another_companion_is_always_named() {
        let mut s = Sightings::new();
        let n = 300_000;
        for i in 0..n {
            s.again(&format!("B-{i}"), &format!("V-{i}"));
        }
        // A second voter for every 1,000th number, long after its first row (its slot has
        // been taken many times since).
        for i in (0..n).step_by(1_000) {
            assert!(s.again(&format!("B-{i}"), &format!("W-{i}")), "B-{i}");
        }
        // And right after it, with no other key between.
        let mut t = Sightings::new();
        t.again("B-x", "V-1");
        assert!(t.again("B-x", "V-2"));
        assert!(!t.again("B-y", "V-1"));
    }

    #[test]
    fn keys_never_seen_are_rarely_named() {
        let mut s = Sightings::new();
        let n = 1_000_000;
        for i in 0..n {
            s.again(&format!("B-{i}"), &format!("V-{i}"));
        }
        let named = (n..2 * n)
            .filter(|i| s.again(&format!("B-{i}"), &format!("V-{i}")))
            .count();
        // One in a thousand at a million keys, twice that as the second million goes in.
        assert!(named < 5_000, "{named} of {n} new keys named");
    }
}

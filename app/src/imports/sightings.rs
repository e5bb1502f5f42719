//! Keys seen before with another companion, in memory that does not grow with the file: which
//! ballot numbers of a first file more than one voter may name, which tracking codes more than
//! one ballot number may carry. Such sharing is rare, and asking the database about every number
//! and code of a file costs a hash of the whole file each (two thirds of the first load's
//! questions); asked only about the keys named here, it costs a scan.
//!
//! Each key (a 64-bit hash of the string) marks two bits of a fixed table (a Bloom filter: a
//! key never seen leaves a bit of its two unmarked, so "never seen" is certain; both bits in one
//! cache line of the table, which is read once), and leaves its
//! companion (the voter's hash, the number's) in a slot of its own, which a later key may take.
//! A row is named when its key was seen with another companion (its slot says so), or may have
//! been (the slot was taken since, and the bits are marked). It is never wrong by leaving a key
//! out: the first row of a key that names a second companion sees, in the key's slot, the last
//! row of the key, whose companion was the first; or a slot taken since, and marked bits. A key
//! named wrongly only costs the exact question about it.

/// Bits of the filter: 2^26 (8 MiB). A million keys leave about one in a thousand unseen keys
/// looking seen; ten million, one in fifty.
const BITS: u32 = 26;
/// Slots of last companions: 2^18 (4 MiB).
const SLOTS: usize = 1 << 18;

/// 512 bits of the filter, on a cache line of their own.
#[derive(Clone, Copy)]
#[repr(align(64))]
struct Line([u64; 8]);

pub(super) struct Sightings {
    bits: Vec<Line>,
    /// (key, companion) of the last key seen at each slot; key 0 is an empty slot.
    last: Vec<(u64, u64)>,
}

impl Sightings {
    pub fn new() -> Self {
        Self {
            bits: vec![Line([0; 8]); 1 << (BITS - 9)],
            last: vec![(0, 0); SLOTS],
        }
    }

    /// Records `key` seen with `companion`; true when it was seen before with another, or may
    /// have been.
    pub fn again(&mut self, key: u64, companion: u64) -> bool {
        let key = key.max(1);
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
    use crate::imports::run::row_key;

    fn key(s: &str) -> u64 {
        row_key(&[s])
    }

    #[test]
    fn rows_of_one_key_and_companion_together_are_never_named() {
        // A file sorted by ballot: each number's rows one after another, with the same voter.
        // Its first row may look seen (the filter's rare false sightings); the others never.
        let mut s = Sightings::new();
        for i in 0..300_000 {
            let named = s.again(key(&format!("B-{}", i / 3)), key(&format!("V-{}", i / 3)));
            assert!(i % 3 == 0 || !named, "row {i}");
        }
    }

    #[test]
    fn a_key_seen_with_another_companion_is_always_named() {
        let mut s = Sightings::new();
        let n = 300_000;
        for i in 0..n {
            s.again(key(&format!("B-{i}")), key(&format!("V-{i}")));
        }
        // A second voter for every 1,000th number, long after its first row (its slot has
        // been taken many times since).
        for i in (0..n).step_by(1_000) {
            assert!(
                s.again(key(&format!("B-{i}")), key(&format!("W-{i}"))),
                "B-{i}"
            );
        }
        // And right after it, with no other key between.
        let mut t = Sightings::new();
        t.again(key("B-x"), key("V-1"));
        assert!(t.again(key("B-x"), key("V-2")));
        assert!(!t.again(key("B-y"), key("V-1")));
    }

    #[test]
    fn keys_never_seen_are_rarely_named() {
        let mut s = Sightings::new();
        let n = 1_000_000;
        for i in 0..n {
            s.again(key(&format!("B-{i}")), key(&format!("V-{i}")));
        }
        let named = (n..2 * n)
            .filter(|i| s.again(key(&format!("B-{i}")), key(&format!("V-{i}"))))
            .count();
        // One in a thousand at a million keys, twice that as the second million goes in.
        assert!(named < 5_000, "{named} of {n} new keys named");
    }
}

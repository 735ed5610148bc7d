//! NumPy's legacy random stream (`numpy.random.RandomState`: MT19937) and its `shuffle`,
//! so that a fit can shuffle its rows in exactly the order scikit-learn's MLPs draw.
//!
//! ```text
//! next32:   (regenerate the 624 words when pos = 624);  y = key[pos++], tempered
//! interval(max) = 0 if max = 0, else repeat v = next32 & mask until v ≤ max
//!                 (mask: the smallest 2^k − 1 ≥ max; next64 when max ≥ 2^32)
//! shuffle(a):   for i = n−1 down to 1:  swap(a[i], a[interval(i)])
//! ```
//!
//! The state is `RandomState.get_state()`'s: the 624 words of `key` and `pos`. The
//! Gaussian cache of that state is not touched by `shuffle`, so it is not kept here.

use crate::{Error, Result};

/// Words of the MT19937 state.
pub const WORDS: usize = 624;
const SHIFT: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

/// The state of a NumPy `RandomState` (`get_state()[1]` and `[2]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mt19937 {
    pub key: [u32; WORDS],
    /// Words of `key` used; 624 means the next draw regenerates them.
    pub pos: usize,
}

impl Mt19937 {
    /// The state `key`, `pos` as `RandomState.get_state()` gives them; refuses a `pos`
    /// above 624 or a key of another length.
    pub fn from_state(key: &[u32], pos: usize) -> Result<Self> {
        let key: [u32; WORDS] = key.try_into().map_err(|_| {
            Error::value(
                "shuffle_state",
                format!("must have {WORDS} key words, got {}", key.len()),
            )
        })?;
        if pos > WORDS {
            return Err(Error::value(
                "shuffle_state",
                format!("position must be at most {WORDS}, got {pos}"),
            ));
        }
        Ok(Mt19937 { key, pos })
    }

    /// The reference seeding of MT19937 (`init_genrand`), as `RandomState(seed)` for a
    /// seed below 2^32.
    pub fn seeded(seed: u32) -> Self {
        let mut key = [0u32; WORDS];
        key[0] = seed;
        for i in 1..WORDS {
            let prev = key[i - 1];
            key[i] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 { key, pos: WORDS }
    }

    /// Regenerates the 624 words (`mt19937_gen`).
    fn generate(&mut self) {
        let key = &mut self.key;
        let twist = |upper: u32, lower: u32, far: u32| {
            let y = (upper & UPPER_MASK) | (lower & LOWER_MASK);
            far ^ (y >> 1) ^ (0u32.wrapping_sub(y & 1) & MATRIX_A)
        };
        for i in 0..WORDS {
            key[i] = twist(key[i], key[(i + 1) % WORDS], key[(i + SHIFT) % WORDS]);
        }
        self.pos = 0;
    }

    /// The next 32 random bits (`mt19937_next32`).
    pub fn next_u32(&mut self) -> u32 {
        if self.pos == WORDS {
            self.generate();
        }
        let mut y = self.key[self.pos];
        self.pos += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// The next 64 random bits: two words, the first the high half (`mt19937_next64`).
    pub fn next_u64(&mut self) -> u64 {
        let high = u64::from(self.next_u32());
        (high << 32) | u64::from(self.next_u32())
    }

    /// A uniform integer in `0..=max` by masked rejection (NumPy's `random_interval`).
    pub fn interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mask = u64::MAX >> max.leading_zeros();
        match u32::try_from(max) {
            Ok(_) => loop {
                let v = u64::from(self.next_u32()) & mask;
                if v <= max {
                    return v;
                }
            },
            Err(_) => loop {
                let v = self.next_u64() & mask;
                if v <= max {
                    return v;
                }
            },
        }
    }

    /// Shuffles `items` in place as `RandomState.shuffle` shuffles a 1-D array: the
    /// Fisher–Yates swaps from the last position down to 1.
    pub fn shuffle<E>(&mut self, items: &mut [E]) {
        for i in (1..items.len()).rev() {
            let j = self.interval(i as u64) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `np.random.RandomState(5489)`'s first words: the reference implementation's
    /// published output for its default seed.
    #[test]
    fn the_reference_sequence() {
        let mut mt = Mt19937::seeded(5489);
        let first: Vec<u32> = (0..3).map(|_| mt.next_u32()).collect();
        assert_eq!(first, [3_499_211_612, 581_869_302, 3_890_346_734]);
        // The 10000th output of the reference generator (C++ std::mt19937's check value).
        let mut mt = Mt19937::seeded(5489);
        let last = (0..10_000).map(|_| mt.next_u32()).last();
        assert_eq!(last, Some(4_123_659_995));
    }

    /// `np.random.RandomState(0).shuffle(a)` for `a = np.arange(n)`, written out by NumPy.
    #[test]
    fn numpy_shuffles() {
        let cases: [(usize, &[usize]); 4] = [
            (1, &[0]),
            (2, &[1, 0]),
            (5, &[2, 0, 1, 3, 4]),
            (10, &[2, 8, 4, 9, 1, 6, 7, 3, 0, 5]),
        ];
        for (n, expected) in cases {
            let mut mt = Mt19937::seeded(0);
            let mut a: Vec<usize> = (0..n).collect();
            mt.shuffle(&mut a);
            assert_eq!(a, expected, "n = {n}");
        }
    }

    /// One `RandomState(12345)` shuffling `np.arange(n)` for each `n` in turn: a hash of
    /// each permutation and the state at the end, as NumPy gives them (sizes 1 and 2, and
    /// around the 624 words of a regeneration).
    #[test]
    fn numpy_shuffles_of_many_sizes() {
        let cases: [(usize, u64); 15] = [
            (1, 0),
            (2, 1000003),
            (3, 2000007),
            (4, 2000017000048000044),
            (7, 10918530542002307291),
            (8, 2620768750619754584),
            (9, 7830916858487051990),
            (100, 3367956015107676422),
            (623, 17079719976339430493),
            (624, 5092820825161061656),
            (625, 15138803945323327712),
            (1000, 7979194684828290134),
            (4097, 17055288089507957864),
            (65539, 7584870441382467643),
            (200003, 9752229416254375039),
        ];
        let mut mt = Mt19937::seeded(12345);
        for (n, expected) in cases {
            let mut a: Vec<usize> = (0..n).collect();
            mt.shuffle(&mut a);
            let hash = a
                .iter()
                .fold(0u64, |h, &v| h.wrapping_mul(1000003) ^ v as u64);
            assert_eq!(hash, expected, "n = {n}");
        }
        assert_eq!(mt.pos, 175);
        assert_eq!((mt.key[0], mt.key[623]), (2059274669, 2979323996));
        assert_eq!(
            mt.key.iter().map(|&k| u64::from(k)).sum::<u64>(),
            1345222213297
        );
    }

    #[test]
    fn interval_stays_in_range_and_uses_64_bits_above_u32() {
        let mut mt = Mt19937::seeded(1);
        for max in [1u64, 2, 3, 7, 8, 1000, u32::MAX as u64] {
            assert!((0..100).all(|_| mt.interval(max) <= max));
        }
        let (mut a, mut b) = (Mt19937::seeded(2), Mt19937::seeded(2));
        let big = (1u64 << 32) + 5;
        let v = a.interval(big);
        assert!(v <= big);
        let mask = (1u64 << 33) - 1;
        let mut w = b.next_u64() & mask;
        while w > big {
            w = b.next_u64() & mask;
        }
        assert_eq!(v, w);
        assert_eq!(a, b);
    }

    #[test]
    fn bad_states_are_refused() {
        assert!(Mt19937::from_state(&[0; 623], 0).is_err());
        assert!(Mt19937::from_state(&[0; WORDS], WORDS + 1).is_err());
        let s = Mt19937::seeded(7);
        assert_eq!(Mt19937::from_state(&s.key, s.pos).unwrap(), s);
    }
}

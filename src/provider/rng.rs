//! A small deterministic random source. Its values depend only on what it is seeded with, never
//! on scheduling, so the same flow, strategy, input and seed always give the same run.

/// SplitMix64.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// Seeded from several keys, mixed so that nearby keys give unrelated streams.
    pub fn keyed(keys: &[u64]) -> Rng {
        Rng(mix(keys))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        finalize(self.0)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n); 0 when n is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// Uniform in [lo, hi].
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    /// An index chosen with the given relative weights (uniform when empty or all zero).
    pub fn weighted(&mut self, n: usize, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        if weights.len() != n || total <= 0.0 {
            return self.below(n as u64) as usize;
        }
        let mut x = self.next_f64() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        n - 1
    }
}

fn finalize(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub fn mix(keys: &[u64]) -> u64 {
    Mixed::START.then(keys).0
}

/// Keys [`mix`]ed so far, to go on from: streams keyed alike up to a point mix the keys they
/// share once (`Mixed::of([a, b]).then(&[c])` is `mix(&[a, b, c])`).
#[derive(Debug, Clone, Copy)]
pub struct Mixed(u64);

impl Mixed {
    const START: Mixed = Mixed(0x6A09_E667_F3BC_C908);

    pub fn of<const N: usize>(keys: [u64; N]) -> Mixed {
        Mixed::START.then(&keys)
    }

    /// Mixes in more keys. Inlined so that a fixed list unrolls.
    #[inline(always)]
    pub fn then(self, keys: &[u64]) -> Mixed {
        Mixed(keys.iter().fold(self.0, |acc, &k| finalize(acc ^ finalize(k.wrapping_add(0x9E37_79B9_7F4A_7C15)))))
    }

    /// The stream seeded with everything mixed.
    pub fn rng(self) -> Rng {
        Rng(self.0)
    }
}

/// FNV-1a, stable across platforms and releases (unlike std's hasher).
pub fn hash_str(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixing_in_steps_is_mixing_at_once() {
        let keys = [3, 1, 4, 1, 5, 9, 2, 6];
        assert_eq!(Mixed::of(keys).rng().next_u64(), Rng::keyed(&keys).next_u64());
        for at in 0..=keys.len() {
            let (a, b) = keys.split_at(at);
            assert_eq!(Mixed::START.then(a).then(b).0, mix(&keys), "split at {at}");
        }
    }

    #[test]
    fn deterministic_and_spread() {
        let a: Vec<u64> = (0..4).map(|_| Rng::keyed(&[1, 2]).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(Rng::keyed(&[1, 2]).next_u64(), Rng::keyed(&[2, 1]).next_u64());
        let mut r = Rng::new(7);
        let mean = (0..10_000).map(|_| r.next_f64()).sum::<f64>() / 10_000.0;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
        let mut counts = [0; 3];
        for _ in 0..10_000 {
            counts[r.weighted(3, &[0.8, 0.1, 0.1])] += 1;
        }
        assert!((7700..8300).contains(&counts[0]), "{counts:?}");
        assert_eq!(hash_str("baton"), hash_str("baton"));
    }
}
